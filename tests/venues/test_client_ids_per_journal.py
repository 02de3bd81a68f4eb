"""Client order ids carry the journal's id and stay within every exchange's limits.

Limits from each exchange's "place order" documentation (see the profiles' sources):
Binance ``newClientOrderId`` 1–36 of ``[.A-Za-z0-9:/_-]`` (error -4015), OKX ``clOrdId``
1–32 alphanumerics, Bybit ``orderLinkId`` ≤ 36 of letters/digits/``-``/``_``, Deribit
``label`` ≤ 64, BingX ``clientOrderID`` 1–40; MEXC ``externalOid`` and WEEX
``newClientOrderId`` held to OKX's 32 alphanumerics (their pages give no tighter rule);
Hyperliquid ``cloid`` "a 128 bit hex string" (``0x`` + 32 hex digits).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from althedge.exchanges.registry import PROFILES
from althedge.journal import Journal
from althedge.venues.protocol import INSTANCE_CHARS, client_order_id

LIMITS: dict[str, re.Pattern[str]] = {
    "binanceusdm": re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$"),
    "binancecoinm": re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$"),
    "binance": re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$"),
    "okx": re.compile(r"^[A-Za-z0-9]{1,32}$"),
    "bybit": re.compile(r"^[A-Za-z0-9_-]{1,36}$"),
    "deribit": re.compile(r"^.{1,64}$"),
    "bingx": re.compile(r"^[A-Za-z0-9_-]{1,40}$"),
    "mexc": re.compile(r"^[A-Za-z0-9]{1,32}$"),
    "weex": re.compile(r"^[A-Za-z0-9]{1,32}$"),
    "hyperliquid": re.compile(r"^0x[0-9a-f]{32}$"),
}

journal_ids = st.text(alphabet="0123456789abcdef", min_size=24, max_size=24)
purposes = st.sampled_from(["open", "rebalance", "close", "adopt", "orphan", "resume"])


def test_every_profile_has_a_limit_here() -> None:
    assert set(PROFILES) == set(LIMITS)


@given(jid=journal_ids, key=st.integers(1, 10**6), step=st.integers(0, 36**3 - 1),
       purpose=purposes)
def test_ids_carry_the_journal_id_within_every_exchange_limit(
    jid: str, key: int, step: int, purpose: str
) -> None:
    cid = client_order_id(f"{jid}:{key}", step, purpose, jid)
    assert cid.startswith("ah" + jid[:INSTANCE_CHARS])
    assert cid == client_order_id(f"{jid}:{key}", step, purpose, jid)  # deterministic
    for name, profile in PROFILES.items():
        sent = profile.client_id_format(cid) if profile.client_id_format else cid
        assert LIMITS[name].match(sent), (name, sent)


@given(a=journal_ids, b=journal_ids, step=st.integers(0, 99), purpose=purposes)
def test_two_journals_never_share_an_id_for_the_same_hedge_key(
    a: str, b: str, step: int, purpose: str
) -> None:
    """The same hedge key (a journal copied: its hedges keep their keys) under a renewed
    journal id derives other ids — on Hyperliquid too, whose cloid hashes the id."""
    if a == b:
        return
    ours, theirs = (client_order_id("x:1", step, purpose, j) for j in (a, b))
    assert ours != theirs
    cloid = PROFILES["hyperliquid"].client_id_format
    assert cloid is not None and cloid(ours) != cloid(theirs)


def test_a_journal_id_is_made_once_and_renewed_on_demand(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        first = j.journal_id()
        assert re.fullmatch(r"[0-9a-f]{24}", first)
    with Journal(path) as j:
        assert j.journal_id() == first  # made once, with the file
        renewed = j.renew_journal_id()
        assert renewed != first and j.journal_id() == renewed
