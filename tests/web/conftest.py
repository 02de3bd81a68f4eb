"""Fixtures for the dashboard tests: a paper hedge with history, servers, a real Chromium.

The hedge is opened and monitored through the real CLI on the shared data (paper venue);
the server is `althedge serve` started as a process on a free 127.0.0.1 port; the browser
is Debian's chromium driven by its chromedriver (selenium), headless, no network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ALTHEDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
OPEN_AT, STATUS_AT = "2024-06-03", "2024-07-01"
BAD_PORTFOLIO = """[[holdings]]
asset = "SOL"
amount = -5
"""


def althedge(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["ALTHEDGE_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "althedge", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env)


def cli_json(*args: str, home: Path | None = None) -> dict[str, Any]:
    proc = althedge(*args, "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[str] | None = None, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "openapi.json", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server at {url} did not come up")


class Cli:
    """The CLI helpers as a fixture (test modules cannot import conftest)."""

    run = staticmethod(althedge)
    json = staticmethod(cli_json)
    shared, status_at, root = SHARED, STATUS_AT, ROOT


@pytest.fixture(scope="session")
def cli() -> type[Cli]:
    return Cli


@pytest.fixture(scope="session")
def hedge_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder with a paper hedge opened on 2024-06-03 and four weekly snapshots."""
    home = tmp_path_factory.mktemp("web_home")
    prices = str(SHARED)
    cli_json("hedge", "open", "examples/portfolio.toml", "--at", OPEN_AT, "--prices", prices,
             "--live", home=home)
    proc = althedge("monitor", "--advance-days", "7", "--iterations", "4", "--at", "2024-06-10",
                    "--prices", prices, home=home)
    assert proc.returncode == 0, proc.stderr
    return home


@pytest.fixture(scope="session")
def bad_portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "bad.toml"
    path.write_text(BAD_PORTFOLIO)
    return path


@pytest.fixture(scope="session")
def server(hedge_home: Path, bad_portfolio: Path) -> Iterator[str]:
    """`althedge serve` (no --allow-live) on a free loopback port; yields its base URL."""
    port = free_port()
    env = dict(os.environ, ALTHEDGE_HOME=str(hedge_home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "althedge", "serve", "--port", str(port), "--prices", str(SHARED),
         "--at", STATUS_AT, "--portfolio", "examples/portfolio.toml", "--portfolio",
         str(bad_portfolio)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The app with --allow-live in this process (uvicorn in a thread), on its own paper
    account with a hedge open; yields (base URL, token, state folder)."""
    import uvicorn

    from althedge.web.app import create_app
    from althedge.web.context import ServerConfig

    home = tmp_path_factory.mktemp("live_home")
    cli_json("hedge", "open", "examples/portfolio.toml", "--at", OPEN_AT, "--prices",
             str(SHARED), "--live", home=home)
    port = free_port()
    cfg = ServerConfig(portfolios=[ROOT / "examples" / "portfolio.toml"], prices=str(SHARED),
                       data_dir=home, at=__import__("datetime").date(2024, 7, 1),
                       allow_live=True, port=port)
    config = uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    wait_up(url)
    yield url, cfg.token, home
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's chromium + chromium-driver) with console and network logs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    assert chromium and driver_bin, (
        "the browser tests need Debian's chromium and chromium-driver: "
        "apt-get install -y chromium chromium-driver (.ci/run does this)"
    )
    profile = tempfile.mkdtemp(prefix="althedge-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-default-apps", "--window-size=1400,1000",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    driver.set_page_load_timeout(240)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
