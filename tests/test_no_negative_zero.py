"""JSON never says ``-0.0``: the one JSON conversion (``--json``, ``/api``, summary files,
the webhook) and the journal's own JSON columns both write ``0.0``."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from althedge.files import format_number, jsonable, no_negative_zero
from althedge.journal import Journal

NEGATIVE_ZERO = re.compile(r"-0\.0(?![0-9])")


@given(st.recursive(
    st.floats(allow_nan=False, allow_infinity=False) | st.just(-0.0),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=4),
    max_leaves=12,
))
def test_no_float_is_written_as_negative_zero(value: object) -> None:
    for converted in (jsonable(value), no_negative_zero(value)):
        text = json.dumps(converted)
        assert not NEGATIVE_ZERO.search(text)


def test_values_other_than_negative_zero_are_unchanged() -> None:
    data = {"contracts": -0.0, "pnl": -1.5, "legs": [{"x": -0.0, "y": 2.0}], "n": math.inf}
    assert jsonable(data) == {"contracts": 0.0, "pnl": -1.5, "legs": [{"x": 0.0, "y": 2.0}],
                              "n": None}
    assert math.copysign(1.0, jsonable(-0.0)) == 1.0


def test_the_journal_never_stores_negative_zero(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        hid = j.create_hedge(venue="paper", symbol="BTC/USDT:USDT", opened_at="2024-06-03",
                             portfolio={"value": -0.0}, settings={"legs": [{"c": -0.0}]})
        j.finish_hedge(hid, status="closed", at="2024-07-01",
                       attribution={"hedge_pnl_usd": -0.0})
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT portfolio_json, settings_json, attribution_json FROM hedges"
                           ).fetchone()
    assert not any(NEGATIVE_ZERO.search(str(col)) for col in row)


def test_format_number_never_prints_negative_zero() -> None:
    """Tables: ``-0.0`` and values that round to zero print unsigned (or ``+``) zeros;
    everything else exactly as ``format`` does."""
    assert format_number(-0.0, ",.2f") == "0.00"
    assert format_number(-0.001, "+,.2f") == "+0.00"
    assert format_number(-0.0004, ".1%") == "0.0%"
    assert format_number(-0.0, ">8,.2f") == "    0.00"
    assert format_number(-1.5, ",.2f") == "-1.50"
    assert format_number(-1234.5, "+,.0f") == "-1,234"
    assert format_number(3, ",d") == "3"
    assert format_number(float("-inf"), ".2f") == "-inf"
