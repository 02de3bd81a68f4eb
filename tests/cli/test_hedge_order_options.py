"""`hedge open`, `rebalance` and `close` take the same order options, with the same help
and the same validation — through the real console entry on the paper venue.

`hedge rebalance` has `--venue` and the open's `--order-type`, `--offset-bps`,
`--timeout`, `--fallback`, `--limit-at`; given, they are used (dry run and `--live`);
not given, the rebalance works orders as the hedge was opened.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.cli.test_hedge_cycle import _portfolio, ok_json, run

OPTIONS = ("--order-type", "--offset-bps", "--timeout", "--fallback", "--limit-at", "--venue")
COMMANDS = ("open", "rebalance", "close")


def _help_of(home: Path, command: str) -> dict[str, str]:
    """Each option's help text (whitespace folded) in `althedge hedge COMMAND --help`."""
    proc = run(home, "hedge", command, "--help", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    out: dict[str, str] = {}
    current = None
    for line in proc.stdout.splitlines():
        m = re.match(r"^\s{2}(--[a-z-]+)\s*(?:<\w+>|[A-Z][A-Z_|]*\b|\[[\w|]+\])?\s+(.*)$", line)
        if m:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.startswith(" " * 10) and line.strip():
            out[current] += " " + line.strip()
        else:
            current = None
    return out


def test_the_three_commands_share_the_order_options_and_their_help(tmp_path: Path) -> None:
    helps = {c: _help_of(tmp_path, c) for c in COMMANDS}
    for option in OPTIONS:
        for c in COMMANDS:
            assert option in helps[c], f"hedge {c} lacks {option}"
    for option in OPTIONS[:-1]:  # --venue: open's picks the venue, the others override it
        assert helps["open"][option] == helps["rebalance"][option] == helps["close"][option]
    assert helps["rebalance"]["--venue"] == helps["close"]["--venue"]


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, str]:
    """A hedge opened on paper on 2024-06-03 (limit at the mark)."""
    tmp = tmp_path_factory.mktemp("opts")
    home = tmp / "home"
    prices = str(shared_data / "daily")
    ok_json(run(home, "hedge", "open", str(_portfolio(tmp)), "--prices", prices,
                "--at", "2024-06-03", "--live", "--json"))
    return home, prices


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--order-type", "stop"), "--order-type: must be limit or market"),
        (("--fallback", "wait"), "--fallback: must be market, reprice or cancel"),
        (("--offset-bps", "5000"), "--offset-bps: must be within ±1000"),
        (("--offset-bps", "nan"), "--offset-bps"),
        (("--timeout", "-1"), "--timeout: must be >= 0"),
        (("--order-type", "market", "--limit-at", "60000"), "--limit-at: needs --order-type"),
    ],
)
def test_bad_order_options_are_the_same_one_line_error_everywhere(
    opened: tuple[Path, str], args: tuple[str, ...], message: str
) -> None:
    home, prices = opened
    for command in COMMANDS:
        extra = (str(_portfolio(home.parent)), "--prices", prices) if command == "open" else ()
        proc = run(home, "hedge", command, *extra, "--at", "2024-07-01", *args)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert message in proc.stderr, (command, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 3


def test_rebalance_uses_the_order_options_dry_run_and_live(opened: tuple[Path, str]) -> None:
    home, _ = opened
    base = ("hedge", "rebalance", "--venue", "paper", "--at", "2024-07-01", "--threshold", "0",
            "--json")
    default = ok_json(run(home, *base))
    (planned,) = default["orders"]
    assert planned["order_type"] == "limit"  # as the hedge was opened
    assert planned["price"] == pytest.approx(planned["mark_price_usd"], rel=1e-3)

    at_level = ok_json(run(home, *base, "--limit-at", "50000"))
    (order,) = at_level["orders"]
    assert order["price"] == pytest.approx(50000.0)  # the level, whatever the side
    assert not at_level["executed"]

    offset = ok_json(run(home, *base, "--offset-bps", "-20"))
    (order,) = offset["orders"]
    passive = 1 if order["side"] == "sell" else -1
    assert order["price"] == pytest.approx(order["mark_price_usd"] * (1 - passive * 0.002),
                                           rel=1e-4)

    live = ok_json(run(home, *base, "--order-type", "market", "--live"))
    (order,) = live["orders"]
    assert order["order_type"] == "market" and order["price"] is None
    assert [e["status"] for e in live["executed"]] == ["filled"]
    assert live["current_contracts"] == pytest.approx(live["target_contracts"])


def test_rebalance_venue_names_a_venue_that_is_not_there(opened: tuple[Path, str]) -> None:
    home, _ = opened
    proc: subprocess.CompletedProcess[str] = run(
        home, "hedge", "rebalance", "--venue", "nosuchexchange"
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "nosuchexchange" in proc.stderr
