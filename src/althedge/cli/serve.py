"""`althedge serve`: the local web dashboard (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from pathlib import Path

import typer

from althedge.cli.common import err_console, parse_date
from althedge.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_TOKEN_CHARS = 16


def _check_host(host: str, token: str | None) -> None:
    if host in LOOPBACK:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not host or any(c in host for c in "/ "):
            raise InputError(f"--host: {host!r} is not an address; e.g. --host 127.0.0.1") from None
    if token is None or len(token) < MIN_TOKEN_CHARS:
        raise InputError(
            f"--token: binding to {host} (not loopback) needs --token with at least "
            f"{MIN_TOKEN_CHARS} characters; every request must then carry it"
        )


def _port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InputError(f"--port: {host}:{port} is not free ({exc.strerror}); "
                             "pick another with --port") from None


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but "
                             "loopback needs --token."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    demo: bool = typer.Option(False, "--demo", help="Bundled data, paper venue, a demo hedge "
                              "with history in a temporary state folder."),
    portfolio: list[Path] | None = typer.Option(
        None, "--portfolio", help="Portfolio TOML file(s) the pages offer (repeatable). "
        "Default: examples/portfolio.toml when present, else the bundled example."),
    prices: str | None = typer.Option(None, "--prices", help="Price folder (default: bundled)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="State directory (journal, "
                                         "paper account). Default $ALTHEDGE_HOME or ~/.althedge."),
    venue: str = typer.Option("paper", "--venue", help="Venue for a new hedge: paper or a ccxt "
                              "id (binanceusdm, bybit, okx, deribit)."),
    at: str | None = typer.Option(None, "--at", help="Paper venue: the market date to show."),
    allow_live: bool = typer.Option(False, "--allow-live", help="Allow live orders from the "
                                    "page (each needs the token and a confirmation)."),
    token: str | None = typer.Option(None, "--token", help="The server token (default: a random "
                                     "one, printed at start)."),
) -> None:
    """Serve the dashboard: plan, hedge status and actions, levels, backtest, data.

    Binds to 127.0.0.1; everything is a dry run unless started with --allow-live. The JSON
    API (the CLI's --json objects) is under /api, described at /openapi.json.
    """
    import uvicorn

    from althedge.web.app import create_app
    from althedge.web.context import ServerConfig

    _check_host(host, token)
    if not 0 < port < 65536:
        raise InputError(f"--port: {port} is not a TCP port (1–65535)")
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise InputError(f"--token: use at least {MIN_TOKEN_CHARS} characters")
    _port_free(host, port)
    when = parse_date(at, "--at")
    files = list(portfolio or [])
    if demo:
        from althedge.web import demo as demo_setup

        if prices is not None or venue != "paper":
            raise InputError("--demo: runs on the bundled data and the paper venue; drop "
                             "--prices/--venue")
        files = files or [demo_setup.bundled_portfolio()]
        data_dir = data_dir or Path(tempfile.mkdtemp(prefix="althedge-demo-"))
        err_console.print("demo: opening a paper hedge on the bundled data and recording "
                          "weekly snapshots…")
        when = when or demo_setup.prepare(data_dir, files[0])
    if not files:
        example = Path("examples/portfolio.toml")
        if example.is_file():
            files = [example]
        else:
            from althedge.web.demo import bundled_portfolio

            files = [bundled_portfolio()]
    for f in files:
        if not f.is_file():
            raise InputError(f"--portfolio: {f} does not exist; pass an existing TOML file")
    cfg = ServerConfig(portfolios=files, prices=prices, data_dir=data_dir, venue=venue, at=when,
                       allow_live=allow_live, host=host, port=port, demo=demo,
                       **({"token": token, "token_given": True} if token else {}))
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    err_console.print(f"althedge dashboard on [bold]{url}[/]  (Ctrl-C to stop)", soft_wrap=True)
    if allow_live:
        err_console.print("[bold red]live actions allowed[/]: each needs this token and a "
                          f"confirmation: [bold]{cfg.token}[/]", soft_wrap=True)
    if host not in LOOPBACK:
        err_console.print(f"[yellow]bound to {host}: open {url}?token=… ; anyone with the "
                          "token can reach it[/]", soft_wrap=True)
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")


def register(root: typer.Typer) -> None:
    """Attach `serve` to the root app."""
    root.command("serve")(serve_command)
