"""tests/slow_tests.txt names real test functions, once each: a renamed test would silently
move back into the quick run, a typo would mark nothing."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_slow_entry_is_a_test_function_listed_once() -> None:
    lines = (TESTS / "slow_tests.txt").read_text(encoding="utf-8").splitlines()
    entries = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
    assert len(entries) == len(set(entries)), "an entry is listed twice"
    assert entries, "the list is empty: nothing is marked slow"
    for entry in entries:
        path, _, name = entry.partition("::")
        file = TESTS.parent / path
        assert file.is_file(), f"{entry}: no such test file"
        defined = {n.name for n in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
                   if isinstance(n, ast.FunctionDef)}
        assert name in defined, f"{entry}: no such test function (renamed? update the list)"
