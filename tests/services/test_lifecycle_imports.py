"""The lifecycle package's imports: arrows point inward only and there is no circle.

Read from the source with ``ast`` (module-level and function-level imports alike):
``althedge.services.hedge`` may import core, data, venues, journal, config, errors,
``files`` (the leaf of JSON-safe values and atomic writes, which imports only errors)
and ``services.plan`` — never the CLI or the monitor — and its modules import each
other without a cycle; ``althedge.core`` imports nothing of althedge but core and
errors.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import assert_no_import_circle

SRC = Path(__file__).resolve().parents[2] / "src"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m.startswith("althedge")}


def _module(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph(package: str) -> dict[str, set[str]]:
    folder = SRC / package.replace(".", "/")
    return {_module(p): _imports(p) for p in sorted(folder.rglob("*.py"))}


def test_hedge_package_imports_only_inward() -> None:
    allowed = (
        "althedge.core", "althedge.data", "althedge.venues", "althedge.journal",
        "althedge.config", "althedge.errors", "althedge.files", "althedge.services.plan",
        "althedge.services.hedge",
    )
    graph = _graph("althedge.services.hedge")
    assert len(graph) >= 10
    for module, imports in graph.items():
        outward = [m for m in imports if not m.startswith(allowed)]
        assert outward == [], f"{module} imports {outward}"


def test_hedge_package_has_no_circle() -> None:
    graph = _graph("althedge.services.hedge")
    inner = {
        m: {i for i in deps if i in graph and i != "althedge.services.hedge"}
        for m, deps in graph.items()
        if m != "althedge.services.hedge"  # the package's __init__ only re-exports
    }
    assert_no_import_circle(inner)


def test_core_imports_nothing_outside_core_and_errors() -> None:
    for module, imports in _graph("althedge.core").items():
        outward = [m for m in imports if not m.startswith(("althedge.core", "althedge.errors"))]
        assert outward == [], f"{module} imports {outward}"


def test_lifecycle_facade_is_thin() -> None:
    text = (SRC / "althedge" / "services" / "lifecycle.py").read_text("utf-8")
    assert len(text.splitlines()) < 60
    assert _imports(SRC / "althedge" / "services" / "lifecycle.py") == {"althedge.services.hedge"}
    assert "os._exit" not in "".join(
        p.read_text("utf-8") for p in (SRC / "althedge").rglob("*.py")
    )
