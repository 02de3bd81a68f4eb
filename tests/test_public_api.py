"""The library API of `althedge/__init__`: one list of names (``_EXPORTS``), each of
which imports, nothing else exported, and the docstring's example gives what the
plan service — and `althedge plan --json` — gives."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import althedge
from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.files import jsonable as _to_jsonable
from althedge.services import plan as plan_service

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_the_one_list() -> None:
    assert althedge.__all__ == ["__version__", *althedge._EXPORTS]
    assert len(set(althedge.__all__)) == len(althedge.__all__)
    assert sorted(dir(althedge)) == sorted(althedge.__all__)


def test_every_listed_name_imports_from_its_module() -> None:
    for name, module in althedge._EXPORTS.items():
        value = getattr(althedge, name)
        assert value is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError):
        althedge.not_a_name  # noqa: B018


def test_nothing_else_is_exported() -> None:
    namespace: dict[str, object] = {}
    exec("from althedge import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(althedge.__all__)
    with pytest.raises(AttributeError):
        althedge.run_monitor  # noqa: B018  (internal: not in the list)


def test_type_checking_imports_mirror_the_list() -> None:
    """The ``if TYPE_CHECKING:`` imports (for IDEs) name exactly the listed names, each
    from the module the list gives."""
    tree = ast.parse((ROOT / "src" / "althedge" / "__init__.py").read_text("utf-8"))
    block = next(
        n for n in tree.body
        if isinstance(n, ast.If) and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"
    )
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == althedge._EXPORTS


def test_docstring_example_seed_numbers() -> None:
    # seed article example (README "Sizing"): $50,000 at beta 1.8 against BTC at 65,000
    # → 90,000 USD of hedge = 1.38 contracts, rounded down to 1, 25,000 USD unhedged
    size = althedge.size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="down")
    assert (size.contracts, size.residual_usd) == (1.0, 25_000.0)
    assert size.contracts * 65_000 + size.residual_usd == pytest.approx(50_000 * 1.8)


def test_plan_from_python_matches_plan_service() -> None:
    """The docstring's two lines give the plan service's plan, field for field, and what
    `althedge plan --json` prints."""
    path = ROOT / "examples" / "portfolio.toml"
    plan = althedge.build_plan(althedge.load_portfolio(path), althedge.bundled_source())
    service = plan_service.build_plan(load_portfolio(path), open_source(None))
    assert plan.to_dict() == service.to_dict()
    proc = subprocess.run(
        [sys.executable, "-m", "althedge", "plan", str(path), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps(_to_jsonable(plan.to_dict())))
    assert plan.hedge.contracts <= plan.hedge.contracts_exact


def test_error_tree_drawing_matches_the_classes() -> None:
    """Every class in errors.py's drawing exists with the parent, and exit code, drawn."""
    import re

    from althedge import errors

    doc = errors.__doc__ or ""
    drawn = re.findall(r"^([ │]*(?:[├└]── )?)(\w+Error)\b[^\[]*\[(\d)\]", doc, re.M)
    assert len(drawn) == 15  # 13, OutputError and VenueRestrictedError
    parents: list[tuple[int, type]] = []
    checked = 0
    for indent, name, code in drawn:
        cls = getattr(errors, name)
        depth = len(indent)  # the branch "├── " counts: a child is drawn deeper
        while parents and parents[-1][0] >= depth:
            parents.pop()
        if parents:
            assert cls.__bases__[0] is parents[-1][1], name
            checked += 1
        assert cls.exit_code == int(code), name
        parents.append((depth, cls))
    assert checked == len(drawn) - 1  # every class but the root has its parent checked
    classes = {
        n for n, v in vars(errors).items()
        if isinstance(v, type) and issubclass(v, errors.AlthedgeError)
    }
    assert classes == {name for _, name, _ in drawn}
