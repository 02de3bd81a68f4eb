"""Layer rules of docs/architecture.md, read from the source with ``ast``.

Arrows point inward only: each top-level part of ``althedge`` may import only the
parts listed for it (module-level and function-level imports alike), and the parts
import each other without a circle. The exchange boundary (``althedge.exchanges``)
sits beside ``core``: data sources and venues both use it; it uses only core and
errors, and never loads ccxt at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "althedge"

#: part → the parts it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    # files.py: whole-file writes and their one-line OutputError (a leaf, like errors)
    "files": {"errors"},
    "core": {"errors"},
    "exchanges": {"core", "errors"},
    # config validates a data-quality option with the data layer's own parser
    "config": {"core", "errors", "data"},
    "data": {"core", "errors", "exchanges", "files"},
    "venues": {"core", "errors", "exchanges"},
    # the journal's JSON columns never hold -0.0 (files.no_negative_zero, the JSON leaf)
    "journal": {"core", "errors", "files"},
    "services": {"core", "errors", "exchanges", "data", "venues", "journal", "config",
                 "files"},
    # cli/serve.py starts the dashboard (`althedge serve`): cli → web, never back
    "cli": {"core", "errors", "exchanges", "data", "venues", "journal", "config", "services",
            "bundled", "web", "files"},
    # the dashboard sits beside the CLI (people → services) and never imports it
    "web": {"core", "errors", "exchanges", "data", "venues", "journal", "config", "services",
            "files"},
    "bundled": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m.startswith("althedge.")}


def _part(module: str) -> str:
    return module.split(".")[1]


def _part_of_path(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def test_every_part_imports_only_inward() -> None:
    checked = 0
    for path in sorted(PKG.rglob("*.py")):
        part = _part_of_path(path)
        if part not in ALLOWED:
            continue  # the package facade (__init__, __main__) may import anything
        for module in _imports(path):
            other = _part(module)
            assert other == part or other in ALLOWED[part], (
                f"{path.relative_to(SRC)} ({part}) imports {module} ({other}); "
                f"{part} may import only {sorted(ALLOWED[part])}"
            )
            checked += 1
    assert checked > 100


def test_parts_have_no_circle() -> None:
    edges: dict[str, set[str]] = {p: set() for p in ALLOWED}
    for path in PKG.rglob("*.py"):
        part = _part_of_path(path)
        if part in ALLOWED:
            edges[part].update(_part(m) for m in _imports(path) if _part(m) != part)
    assert_no_import_circle(edges)


def assert_no_import_circle(edges: dict[str, set[str]]) -> None:
    """Fail naming the circle if the import graph ``edges`` (node → imported nodes) has one
    (depth-first search; also used by tests/services/test_lifecycle_imports.py)."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            assert state.get(nxt) != 1, "import circle: " + " → ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for p in sorted(edges):
        if p not in state:
            visit(p, [])


def test_ccxt_market_translation_lives_only_in_exchanges() -> None:
    """One ``instrument_from_market``, ``translate_error``, ``make_exchange`` definition."""
    for name in ("instrument_from_market", "translate_error", "make_exchange",
                 "funding_interval_from_market", "tiers_from_ccxt"):
        defined = [
            p.relative_to(SRC).as_posix()
            for p in PKG.rglob("*.py")
            if f"def {name}(" in p.read_text("utf-8")
        ]
        owners = [d for d in defined if d.startswith("althedge/exchanges/")]
        assert len(owners) == 1, (name, defined)
        # a thin wrapper elsewhere must delegate (no second implementation)
        for d in defined:
            if d not in owners:
                text = (SRC / d).read_text("utf-8")
                assert "althedge.exchanges" in text, (name, d)


def test_one_usd_like_set() -> None:
    """The currencies valued at 1 USD are defined once (core/currencies.py, the union of
    the exchanges', the paper venue's and the accounting's former copies) and imported
    everywhere else."""
    import re

    defined = [
        p.relative_to(SRC).as_posix()
        for p in PKG.rglob("*.py")
        if re.search(r"^_?USD_LIKE\s*[:=]", p.read_text("utf-8"), re.M)
    ]
    assert defined == ["althedge/core/currencies.py"], defined
    from althedge.exchanges import USD_LIKE
    from althedge.services.hedge.money import Money
    from althedge.venues import paper

    assert {"", "USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE"} <= USD_LIKE
    assert Money(5.0, "USDe").is_usd  # once missing from the accounting's copy
    assert paper.USD_LIKE is USD_LIKE


def test_exchange_profiles_do_not_load_ccxt() -> None:
    code = (
        "import sys; import althedge.exchanges as e; "
        "assert e.profile('okx').fees.taker > 0; print('ccxt' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )
    assert out.stdout.strip() == "False"
