"""The dashboard app without a browser (FastAPI's TestClient): safety rules and contracts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from althedge.data import bundled_source
from althedge.services.levels import build_levels
from althedge.web.app import create_app
from althedge.web.context import ServerConfig, jsonable

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = ROOT / "examples" / "portfolio.toml"


def client(tmp_path: Path, **kw: object) -> TestClient:
    cfg = ServerConfig(portfolios=[PORTFOLIO], data_dir=tmp_path, port=8765, **kw)  # type: ignore[arg-type]
    host = cfg.host if ":" not in cfg.host else f"[{cfg.host}]"
    return TestClient(create_app(cfg), base_url=f"http://{host}:8765")


def test_foreign_host_header_is_refused(tmp_path: Path) -> None:
    c = client(tmp_path)
    assert c.get("/openapi.json").status_code == 200
    r = c.get("/openapi.json", headers={"host": "attacker.example:8765"})
    assert r.status_code == 403 and "loopback" in r.json()["error"]


def test_off_loopback_every_request_needs_the_token(tmp_path: Path) -> None:
    token = "a-long-enough-token-123"
    c = client(tmp_path, host="192.0.2.10", token=token)
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/openapi.json", headers={"x-althedge-token": "wrong"}).status_code == 401
    r = c.get(f"/openapi.json?token={token}")
    assert r.status_code == 200 and r.cookies.get("althedge_token") == token
    assert c.get("/openapi.json").status_code == 200  # the cookie now carries it
    page = c.get("/backtest").text
    assert "bound to 192.0.2.10, not loopback" in page


def test_api_errors_are_the_one_line_messages(tmp_path: Path) -> None:
    c = client(tmp_path)
    r = c.get("/api/plan?portfolio=3")
    assert r.status_code == 400
    assert r.json() == {"error": "portfolio: no portfolio #3; pick one of the list (0–0)",
                        "exit_code": 2}
    r = c.get("/api/levels?asset=NOPE")
    assert r.status_code == 409 and r.json()["error"].startswith("prices: no 1d data for NOPE")
    r = c.get("/levels?asset=BTC&days=0")  # a page: the message on the page, status 400
    assert r.status_code == 400 and "error: --days: must be between 1 and 3650" in r.text


def test_levels_api_is_the_cli_json(tmp_path: Path) -> None:
    c = client(tmp_path)
    got = c.get("/api/levels?asset=ETH&days=60").json()
    want = jsonable(build_levels(bundled_source(), "ETH", days=60).to_dict())
    assert got == want


def test_live_actions_are_refused_without_allow_live_token_and_confirmation(
    tmp_path: Path,
) -> None:
    body = {"action": "open", "portfolio": "0", "confirm": "yes"}
    r = client(tmp_path).post("/api/hedge/execute", data={**body, "token": "x"})
    assert r.status_code == 403 and "--allow-live" in r.json()["error"]
    live = client(tmp_path, allow_live=True, token="the-server-token-xyz")
    r = live.post("/api/hedge/execute", data={**body, "token": "wrong"})
    assert r.status_code == 403 and r.json()["error"].startswith("token:")
    r = live.post("/api/hedge/execute", data={**body, "token": "the-server-token-xyz",
                                              "confirm": ""})
    assert r.status_code == 403 and r.json()["error"].startswith("confirm:")
    # nothing was opened by any of them
    assert live.get("/api/hedge/status").json()["hedge_id"] is None


def test_preview_is_a_dry_run_with_orders(tmp_path: Path) -> None:
    c = client(tmp_path, at=__import__("datetime").date(2024, 6, 3))
    r = c.post("/api/hedge/preview", data={"action": "open", "portfolio": "0",
                                          "limit_at": "vah"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["live"] is False and out["orders"][0]["side"] == "sell"
    assert out["orders"][0]["price"] > out["orders"][0]["mark_price_usd"]  # resting above
    assert c.get("/api/hedge/status").json()["hedge_id"] is None


def test_check_now_records_a_snapshot(tmp_path: Path) -> None:
    """The Hedge page's "Check now" = one monitor iteration: a journal snapshot."""
    from datetime import date

    c = client(tmp_path, at=date(2024, 6, 3), allow_live=True, token="the-server-token-xyz")
    opened = c.post("/api/hedge/execute", data={"action": "open", "portfolio": "0",
                                               "token": "the-server-token-xyz",
                                               "confirm": "yes"})
    assert opened.status_code == 200, opened.text
    assert opened.json()["live"] is True and opened.json()["executed"]
    before = len(c.get("/api/hedge/history").json()["snapshots"])
    out = c.post("/api/monitor/check").json()
    assert out["iterations"] == 1 and out["snapshots"] == 1 and out["errors"] == []
    assert len(c.get("/api/hedge/history").json()["snapshots"]) == before + 1
    page = c.post("/hedge/check").text
    assert "done: 1 snapshot" in page


def test_static_files_are_served_locally_and_nothing_else(tmp_path: Path) -> None:
    c = client(tmp_path)
    js = c.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert c.get("/static/secrets.txt").status_code == 400
    page = c.get("/backtest").text
    assert "cdn" not in page.lower() and 'src="http' not in page


def test_serve_refuses_an_exposed_host_without_a_token() -> None:
    proc = subprocess.run([sys.executable, "-m", "althedge", "serve", "--host", "0.0.0.0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --token: binding to 0.0.0.0 (not loopback)")


def test_serve_says_when_the_port_is_taken() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "althedge", "serve", "--port", str(port)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and f"--port: 127.0.0.1:{port} is not free" in proc.stderr


def test_api_page_lists_every_endpoint(tmp_path: Path) -> None:
    c = client(tmp_path)
    spec = c.get("/openapi.json").json()
    page = c.get("/api").text
    assert len(spec["paths"]) >= 8
    for path in spec["paths"]:
        assert path in page
    assert c.get("/docs").status_code == 404  # Swagger UI would load from a CDN


@pytest.mark.parametrize("path", ["/", "/hedge", "/backtest"])
def test_pages_render_without_an_open_hedge(tmp_path: Path, path: str) -> None:
    r = client(tmp_path).get(path)
    assert r.status_code == 200 and "<nav>" in r.text
