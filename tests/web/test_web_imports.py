"""Architecture: web/ sits beside cli/ (people → services) and never imports cli/."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "src" / "althedge" / "web"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_web_never_imports_the_cli() -> None:
    files = sorted(WEB.glob("*.py"))
    assert len(files) >= 3
    for f in files:
        bad = {m for m in _imports(f) if m.startswith("althedge.cli")}
        assert not bad, f"{f.name} imports {bad}"


def test_web_reaches_the_hedge_only_through_services() -> None:
    """The lifecycle is called through althedge.services.hedge, never venue order methods."""
    for f in sorted(WEB.glob("*.py")):
        text = f.read_text()
        assert "create_order" not in text and ".execute(" not in text, f.name
