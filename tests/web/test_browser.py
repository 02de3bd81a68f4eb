"""The dashboard in a real browser: what a person sees equals the CLI's JSON.

Chromium (headless) against `althedge serve` on 127.0.0.1 with the paper venue and the
shared data. Every page: no console error, no request leaving 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.xdist_group("browser")

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ALTHEDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
STATUS_AT = "2024-07-01"
#: ALTHEDGE_SCREENSHOTS=1 writes each page's screenshot into docs/img (for the README)
SHOTS = ROOT / "docs" / "img" if os.environ.get("ALTHEDGE_SCREENSHOTS") else None


def _flush_logs(driver: Any) -> None:
    driver.get_log("browser")
    driver.get_log("performance")


def _check_clean(driver: Any, base: str, refused: str | None = None) -> None:
    """No console error; every request the page made went to this server.

    ``refused``: a path whose 403 the test provoked on purpose (the console logs it).
    """
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not (refused and f"{base}{refused} " in e["message"] and "403" in e["message"])]
    assert not errors, errors
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    web = [u for u in urls if u.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp")]
    assert web, "no request seen: the performance log is not working"
    # chrome:// (the browser's own start page) is not the network; http(s) only to loopback
    # (a page left open a moment ago on the other test server may still poll its status)
    assert any(u.startswith(base) for u in web)
    outside = [u for u in web if not u.startswith("http://127.0.0.1:")]
    assert not outside, outside


def _open(driver: Any, url: str, wait_for: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 240).until(ec.presence_of_element_located((By.CSS_SELECTOR, wait_for)))


def _value(driver: Any, css: str) -> float:
    return float(driver.find_element(By.CSS_SELECTOR, css).get_attribute("data-value"))


def _shot(driver: Any, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / f"dashboard-{name}.png"))


def _plotly_points(driver: Any, element_id: str) -> int:
    return int(driver.execute_script(
        "var el = document.getElementById(arguments[0]);"
        "if (!el || !el.data || !el.querySelector('.main-svg')) return 0;"
        "return el.data.reduce(function (n, t) {"
        "  return n + ((t.y || t.x || t.close || []).length || 0); }, 0);", element_id))


def test_plan_page_equals_cli_json(server: str, browser: Any, cli: Any) -> None:
    _flush_logs(browser)
    _open(browser, server + "?as_of=2024-06-03", "#holdings")
    want = cli.json("plan", "examples/portfolio.toml", "--as-of", "2024-06-03", "--prices",
                    str(SHARED))
    assert _value(browser, "[data-key=portfolio_value_usd]") == pytest.approx(
        want["portfolio_value_usd"], rel=1e-12)
    shown = browser.find_element(By.CSS_SELECTOR, "[data-key=portfolio_value_usd]").text
    assert shown == f"{want['portfolio_value_usd']:,.2f}"  # what a person reads
    assert _value(browser, "[data-key=portfolio_beta]") == pytest.approx(want["portfolio_beta"])
    for h in want["holdings"]:
        row = f"tr[data-asset={h['asset']}]"
        assert _value(browser, f"{row} [data-key=beta]") == pytest.approx(h["beta"])
        assert _value(browser, f"{row} [data-key=value_usd]") == pytest.approx(h["value_usd"])
    leg = want["hedges"][0]
    assert _value(browser, f"table[data-leg={leg['hedge_asset']}] [data-key=contracts]") == \
        pytest.approx(leg["contracts"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#scenarios tbody tr")) == \
        len(want["scenarios"])
    _shot(browser, "plan")
    _check_clean(browser, server)


def test_bad_portfolio_shows_the_cli_line_and_the_server_lives(
    server: str, browser: Any, cli: Any, bad_portfolio: Path
) -> None:
    proc = cli.run("plan", str(bad_portfolio))
    assert proc.returncode == 2
    _flush_logs(browser)
    browser.get(server + "?portfolio=1")
    err = WebDriverWait(browser, 60).until(
        ec.presence_of_element_located((By.ID, "error"))).text
    assert err == proc.stderr.strip()  # the same one line as the CLI
    _open(browser, server, "#holdings")  # still serving


def test_hedge_page_status_history_and_refresh(server: str, browser: Any, cli: Any,
                                               hedge_home: Path) -> None:
    _flush_logs(browser)
    _open(browser, server + "hedge", "#status")
    want = cli.json("hedge", "status", "--at", STATUS_AT, home=hedge_home)
    for key in ("portfolio_value_usd", "current_beta", "target_beta", "hedge_ratio_achieved",
                "funding_usd", "unrealised_pnl_usd", "liquidation_price", "margin_ratio"):
        assert _value(browser, f"#status [data-key={key}]") == pytest.approx(want[key]), key
    # history charts drawn from the journal's snapshots (4 monitor checks)
    WebDriverWait(browser, 30).until(lambda d: _plotly_points(d, "chart-ratio") > 0)
    assert _plotly_points(browser, "chart-ratio") == 3 * 4
    assert _plotly_points(browser, "chart-funding") == 3 * 4
    # the status refreshes itself every 5 s (the label changes after a fetch)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "refreshed").text.startswith("refreshed "))
    assert _value(browser, "#status [data-key=current_beta]") == pytest.approx(
        want["current_beta"])
    _shot(browser, "hedge")
    _check_clean(browser, server)


def test_preview_shows_the_orders_and_live_is_refused(server: str, browser: Any, cli: Any,
                                                      hedge_home: Path) -> None:
    _flush_logs(browser)
    _open(browser, server + "hedge", "#preview-form")
    Select(browser.find_element(By.ID, "action")).select_by_value("close")
    browser.find_element(By.ID, "limit_at").send_keys("poc")
    browser.find_element(By.ID, "preview-go").click()
    WebDriverWait(browser, 240).until(ec.presence_of_element_located((By.ID, "orders")))
    want = cli.json("hedge", "close", "--at", STATUS_AT, "--limit-at", "poc", home=hedge_home)
    order = want["orders"][0]
    assert _value(browser, "#orders [data-key=contracts]") == pytest.approx(order["contracts"])
    assert _value(browser, "#orders [data-key=price]") == pytest.approx(order["price"])
    assert "dry run, nothing sent" in browser.find_element(By.ID, "preview").text
    # no live form without --allow-live, and the endpoint refuses a forged post
    assert browser.find_elements(By.ID, "execute-form") == []
    assert browser.find_element(By.ID, "live-off").is_displayed()
    status, body = browser.execute_async_script(
        "var done = arguments[0];"
        "fetch('/api/hedge/execute', {method: 'POST', body: new URLSearchParams("
        "{action: 'close', token: 'guess', confirm: 'yes'})})"
        ".then(function (r) { return r.json().then(function (j) { done([r.status, j]); }); });")
    assert status == 403 and "--allow-live" in body["error"]
    still = cli.json("hedge", "status", "--at", STATUS_AT, home=hedge_home)
    assert still["hedge_id"] is not None and still["contracts"] == pytest.approx(
        order["contracts"])  # nothing was closed
    _shot(browser, "preview")
    _check_clean(browser, server, refused="api/hedge/execute")


def test_live_action_needs_the_token_and_the_confirmation(
    live_server: tuple[str, str, Path], browser: Any, cli: Any
) -> None:
    base, token, home = live_server
    _flush_logs(browser)
    _open(browser, base + "hedge", "#preview-form")
    assert "LIVE ACTIONS ALLOWED" in browser.find_element(By.ID, "live-badge").text

    def preview_close() -> None:
        _open(browser, base + "hedge", "#preview-form")
        Select(browser.find_element(By.ID, "action")).select_by_value("close")
        browser.find_element(By.ID, "preview-go").click()
        WebDriverWait(browser, 240).until(ec.presence_of_element_located((By.ID,
                                                                          "execute-form")))

    preview_close()
    assert browser.find_element(By.ID, "token").get_attribute("value") == ""  # never embedded
    assert token not in browser.page_source
    browser.find_element(By.ID, "token").send_keys("not-the-token")
    browser.find_element(By.ID, "confirm").click()
    browser.find_element(By.ID, "execute-go").click()
    assert "token: wrong or missing" in WebDriverWait(browser, 60).until(
        ec.presence_of_element_located((By.ID, "error"))).text
    preview_close()
    browser.find_element(By.ID, "token").send_keys(token)  # right token, no confirmation
    browser.find_element(By.ID, "execute-go").click()
    assert "confirm" in WebDriverWait(browser, 60).until(
        ec.presence_of_element_located((By.ID, "error"))).text
    assert cli.json("hedge", "status", "--at", STATUS_AT, home=home)["hedge_id"] is not None
    preview_close()
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "confirm").click()
    browser.find_element(By.ID, "execute-go").click()
    # (the page is replaced after the post: a condition that survives stale elements)
    WebDriverWait(browser, 240).until(
        ec.text_to_be_present_in_element((By.ID, "preview"), "Executed: close"))
    assert cli.json("hedge", "status", "--at", STATUS_AT, home=home)["hedge_id"] is None
    _check_clean(browser, base, refused="hedge/execute")


def test_levels_page_equals_cli_json_and_draws_the_chart(
    server: str, browser: Any, cli: Any
) -> None:
    _flush_logs(browser)
    _open(browser, server + "levels?asset=BTC&days=30", "#levels")
    want = cli.json("levels", "BTC", "--days", "30", "--prices", str(SHARED), "--as-of",
                    STATUS_AT)
    for key in ("poc_usd", "value_area_high_usd", "value_area_low_usd", "price_usd"):
        assert _value(browser, f"[data-key={key}]") == pytest.approx(want[key]), key
    if want["short_entry"]:
        assert _value(browser, "[data-key=short_entry]") == pytest.approx(
            want["short_entry"]["price_usd"])
    WebDriverWait(browser, 30).until(lambda d: _plotly_points(d, "levels-chart") > 0)
    # candles (720 hourly bars) + one bar per bin
    assert _plotly_points(browser, "levels-chart") == want["bars"] + len(want["profile"])
    _shot(browser, "levels")
    _check_clean(browser, server)


def test_backtest_runs_with_progress_and_equals_cli(
    server: str, browser: Any, cli: Any
) -> None:
    _flush_logs(browser)
    _open(browser, server + "backtest", "#backtest-form")
    box = browser.find_element(By.ID, "compare")
    box.clear()
    box.send_keys("rolling-ols,none")
    browser.find_element(By.NAME, "start").send_keys("01/01/2024")
    browser.find_element(By.NAME, "end").send_keys("06/30/2024")
    browser.find_element(By.ID, "backtest-go").click()
    t0 = time.monotonic()
    WebDriverWait(browser, 600).until(ec.presence_of_element_located((By.ID, "backtest-table")))
    assert time.monotonic() - t0 < 600
    want = cli.json("backtest", "examples/portfolio.toml", "--prices", str(SHARED),
                    "--compare", "rolling-ols,none", "--start", "2024-01-01", "--end",
                    "2024-06-30")
    cells = browser.find_elements(By.CSS_SELECTOR, "#backtest-table [data-key=hedge_effectiveness]")
    shown = [float(c.get_attribute("data-value")) for c in cells]
    assert shown == pytest.approx([p["metrics"]["hedge_effectiveness"] for p in want["policies"]])
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(
        "var f = document.getElementById('report');"
        "return f && f.contentDocument && f.contentDocument.querySelector('.main-svg') !== null;"))
    _shot(browser, "backtest")
    _check_clean(browser, server)


def test_data_page_lists_series_and_findings(server: str, browser: Any, cli: Any) -> None:
    _flush_logs(browser)
    _open(browser, server + "data", "#series")
    rows = browser.find_elements(By.CSS_SELECTOR, "#series tbody tr")
    text = " ".join(r.text for r in rows)
    assert "BTC 1h" in text.replace("  ", " ") or ("BTC" in text and "1h" in text)
    api = json.loads(browser.execute_async_script(
        "var done = arguments[0]; fetch('/api/data').then(function (r) { return r.text(); })"
        ".then(done);"))
    assert len(rows) == len(api["series"])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#findings tbody tr")) == min(
        len(api["findings"]), 300)
    _shot(browser, "data")
    _check_clean(browser, server)
