"""Shared test fixtures: where the real market data lives, a clean data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The project's real market data (../shared/data beside the checkout; CI has it there too).
SHARED_DATA = Path(os.environ.get("ALTHEDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


#: test functions marked ``slow`` (see the file's header)
SLOW_LIST = Path(__file__).resolve().parent / "slow_tests.txt"


def slow_functions() -> set[str]:
    """``tests/<file>.py::<function>`` of every test listed in tests/slow_tests.txt."""
    lines = SLOW_LIST.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the listed slow tests (deselected by default: pyproject's ``-m "not slow"``)."""
    slow = slow_functions()
    for item in items:
        # "file::test[param]@group" (xdist's loadgroup adds the @group)
        if item.nodeid.split("@", 1)[0].split("[", 1)[0] in slow:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data folder (daily/, hourly/, funding/); fails loudly if absent."""
    assert (SHARED_DATA / "daily" / "BTC-USD_1d.csv").is_file(), (
        f"real market data not found at {SHARED_DATA}; set ALTHEDGE_SHARED_DATA"
    )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own ALTHEDGE_HOME so nothing touches ~/.althedge."""
    home = tmp_path_factory.mktemp("althedge_home")
    monkeypatch.setenv("ALTHEDGE_HOME", str(home))
    return home
