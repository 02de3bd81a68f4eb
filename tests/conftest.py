"""Shared test fixtures: where the real market data lives, a clean data directory, and the
offline Binance USDⓈ-M model (tests/fixtures/binance_usdm.py) for in-process and CLI tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The project's real market data (../shared/data beside the checkout; CI has it there too).
SHARED_DATA = Path(os.environ.get("ALTHEDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


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


_MODEL = "althedge_tests_binance_usdm"


def binance_usdm() -> Any:
    """The module tests/fixtures/binance_usdm.py, loaded once by path (the suite runs in
    importlib mode, where test folders are not packages)."""
    if _MODEL not in sys.modules:
        path = ROOT / "tests" / "fixtures" / "binance_usdm.py"
        spec = importlib.util.spec_from_file_location(_MODEL, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODEL] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[_MODEL]


@pytest.fixture
def binance_model() -> Iterator[Any]:
    """A served offline Binance USDⓈ-M (``FakeBinance``) for real ``althedge`` processes:
    ``binance_model.althedge(home, *args)`` runs the CLI against it."""
    with binance_usdm().serve_binance() as model:
        yield model
