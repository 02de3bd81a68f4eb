"""`althedge data …`: fetch, import, list and check market data.

* ``althedge data fetch --exchange binance --symbols SOL/USDT,BTC/USDT --timeframe 1d
  --since 2023-01-01`` downloads candles into the Parquet cache (only what is missing), with a
  progress bar on stderr; perpetual symbols (``BTC/USDT:USDT``) also get their funding history.
* ``althedge data list`` shows what the cache holds.
* ``althedge data import PATH`` copies CSV/Parquet files (a file or a folder) into the cache
  under the exchange name ``imported``.
* ``althedge data check PATH_OR_SYMBOLS [--json]`` runs the quality checks. Exit code 0 when no
  finding is an error, 3 when at least one is (warnings alone never fail).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from althedge.cli.common import compact_table, console, emit_json, err_console, real_console
from althedge.errors import DataError, ExchangeError, InputError

if TYPE_CHECKING:  # imported inside the commands: `althedge data --help` stays fast
    from althedge.data.quality import Finding

app = typer.Typer(no_args_is_help=True, help="Market data: fetch, import, list, quality checks.")

DATA_DIR_HELP = "Data directory (default: $ALTHEDGE_HOME or ~/.althedge)."
QUALITY_EXIT_CODE = 3  # same as DataError: "the data is not usable"


def _data_dir(value: Path | None) -> Path:
    """The data directory (``--data-dir`` > ``$ALTHEDGE_HOME`` > ``~/.althedge``); one that
    exists but is a file is refused naming where it came from."""
    from althedge.services import state

    return state.data_dir(value, create=False)


def _fmt_ts(ts: Any) -> str | None:
    import pandas as pd

    if ts is None or pd.isna(ts):
        return None
    t = pd.Timestamp(ts)
    return t.date().isoformat() if t == t.normalize() else t.isoformat()


@app.command("fetch")
def fetch(
    exchange: str = typer.Option(..., "--exchange", help="ccxt exchange id, e.g. binance, bybit, "
                                 "okx, deribit, bingx, mexc, weex, hyperliquid."),
    symbols: str = typer.Option(..., "--symbols", help="Comma-separated ccxt symbols, e.g. "
                                "SOL/USDT,BTC/USDT or BTC/USDT:USDT for the perpetual."),
    timeframe: str = typer.Option("1d", "--timeframe", help="1d or 1h."),
    since: str | None = typer.Option(None, "--since", help="First day (YYYY-MM-DD); default "
                                     "3 years back (1d) or 90 days (1h)."),
    until: str | None = typer.Option(None, "--until", help="Last day (default: the last "
                                     "complete bar)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    funding: bool = typer.Option(True, "--funding/--no-funding", help="Also fetch the funding "
                                 "history of perpetual symbols."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Download candles (and funding of perpetuals) into the cache; only what is missing."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from althedge.data.ccxt_source import CcxtPriceSource
    from althedge.data.sources import check_timeframe, to_timestamp

    check_timeframe(timeframe)
    wanted = [s.strip() for s in symbols.split(",") if s.strip()]
    if not wanted:
        raise InputError("symbols: give at least one symbol, e.g. --symbols SOL/USDT")
    start = to_timestamp(since, "since")
    end = to_timestamp(until, "until")
    _check_order(start, end, "--since", "--until")
    home = _data_dir(data_dir)
    from althedge.files import check_targets

    # the cache must be writable before anything is downloaded
    check_targets([("--data-dir (or $ALTHEDGE_HOME)", home / "cache", True)])
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  console=real_console(err_console), transient=False,
                  disable=not err_console.is_terminal and as_json) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(symbol: str, done: int, total: int) -> None:
            if symbol not in tasks:
                tasks[symbol] = progress.add_task(f"{symbol} {timeframe}", total=total)
            progress.update(tasks[symbol], completed=done, total=total)

        src = CcxtPriceSource(exchange, data_dir=home, progress=on_progress)
        for symbol in wanted:
            frame = src.ohlcv(symbol, timeframe, start, end)
            if symbol in tasks:
                progress.update(tasks[symbol], completed=progress.tasks[tasks[symbol]].total)
            row: dict[str, Any] = {
                "symbol": symbol, "timeframe": timeframe, "rows": len(frame),
                "first": _fmt_ts(frame.index.min()) if len(frame) else None,
                "last": _fmt_ts(frame.index.max()) if len(frame) else None,
                "path": str(src.cache.path(src.exchange_id, symbol, timeframe)),
            }
            if funding and ":" in symbol and src.market_data.market(symbol).get("swap"):
                try:
                    events = src.funding_history(symbol, start, end)
                except ExchangeError as err:
                    if not _not_offered(err):
                        raise
                    # the candles are cached; this market has no funding history to read
                    row["funding_events"] = None
                    notes.append(f"{src.exchange_id} offers no funding-rate history for "
                                 f"{symbol} through ccxt; candles only")
                else:
                    row["funding_events"] = len(events)
                    row["funding_interval_hours"] = (
                        float(events["interval_hours"].median()) if len(events) else None)
            results.append(row)
    payload = {"exchange": src.exchange_id, "data_dir": str(home), "fetched": results,
               "retries": list(src.market_data.attempts_log), "notes": notes}
    for note in notes:
        err_console.print(f"note: {note}")
    if as_json:
        emit_json(payload)
        return
    table = Table(title=f"{src.exchange_id}: cached {timeframe} data")
    for col in ("symbol", "rows", "first", "last", "funding events"):
        table.add_column(col)
    for r in results:
        table.add_row(r["symbol"], str(r["rows"]), r["first"] or "-", r["last"] or "-",
                      str(r.get("funding_events", "-")))
    console.print(table)
    console.print(f"cache: {home / 'cache' / src.exchange_id}")


@app.command("list")
def list_cache(
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show the cached series (exchange, symbol, timeframe, rows, first and last bar)."""
    from rich.table import Table

    from althedge.data.cache import ParquetCache

    home = _data_dir(data_dir)
    entries = ParquetCache(home).entries()
    rows: list[dict[str, Any]] = [
        {"exchange": e.exchange, "symbol": e.symbol, "timeframe": e.timeframe, "rows": e.rows,
         "first": _fmt_ts(e.first), "last": _fmt_ts(e.last), "path": str(e.path)}
        for e in entries]
    if as_json:
        emit_json({"data_dir": str(home), "series": rows})
        return
    if not rows:
        console.print(f"The cache in {home} is empty; run `althedge data fetch` or "
                      "`althedge data import`.")
        return
    table = Table(title=f"cached market data in {home / 'cache'}")
    for col in ("exchange", "symbol", "timeframe", "rows", "first", "last"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["exchange"]), str(r["symbol"]), str(r["timeframe"]), str(r["rows"]),
                      str(r["first"] or "-"), str(r["last"] or "-"))
    console.print(table)


@app.command("import")
def import_files(
    path: Path = typer.Argument(..., help="A CSV/Parquet file or a folder of them."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    name: str = typer.Option("imported", "--name", help="Label used as the 'exchange' folder."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Copy price (and funding) files into the cache; unreadable rows are dropped and counted.

    A file without a single readable row is refused (exit 3) and nothing is written.
    """
    import pandas as pd
    from rich.table import Table

    from althedge.data.cache import ParquetCache
    from althedge.data.files import clean_ohlcv, read_funding, read_ohlcv, scan_folder
    from althedge.files import check_dir

    path = path.expanduser()
    if not path.exists():
        raise InputError(f"path: {path} does not exist; pass a CSV/Parquet file or a folder")
    entries = scan_folder(path.parent if path.is_file() else path)
    if path.is_file():
        entries = [e for e in entries if Path(str(e.file)).name == path.name]
    if not entries:
        raise DataError(f"import: no CSV or Parquet price files in {path}; expected names like "
                        "SOL-USD_1d.csv")
    home = _data_dir(data_dir)
    # read and check every file before the first write: all imported or none
    loaded: list[tuple[Any, str, Any, int]] = []
    for e in entries:
        fname = Path(str(e.file)).name
        if e.kind == "funding":
            series = read_funding(e.file, name=fname)
            frame = pd.DataFrame({"funding_rate": series, "interval_hours": 8.0})
            raw_rows = len(frame)
        else:
            raw = read_ohlcv(e.file, name=fname)
            frame = clean_ohlcv(raw).dropna(subset=["close"])
            raw_rows = len(raw)
        if frame.empty:
            raise DataError(f"import: {fname} has no readable rows ({raw_rows} row(s), none with "
                            "a time and a price); nothing was imported — check the file, e.g. "
                            f"`althedge data check {e.file}`")
        loaded.append((e, fname, frame, raw_rows))
    check_dir("--data-dir (or $ALTHEDGE_HOME)", home)
    cache = ParquetCache(home)
    imported: list[dict[str, Any]] = []
    for e, fname, frame, raw_rows in loaded:
        if e.kind == "funding":
            symbol = f"{e.asset}/USDT:USDT"
            target = cache.merge_write(name, symbol, "funding", frame)
            imported.append({"file": fname, "asset": e.asset, "timeframe": "funding",
                             "rows": len(target), "dropped_rows": 0,
                             "path": str(cache.path(name, symbol, "funding"))})
            continue
        symbol = f"{e.asset}/USD"
        cache.merge_write(name, symbol, e.timeframe, frame)
        imported.append({"file": fname, "asset": e.asset, "timeframe": e.timeframe,
                         "rows": len(frame), "dropped_rows": raw_rows - len(frame),
                         "path": str(cache.path(name, symbol, e.timeframe))})
    if as_json:
        emit_json({"imported": imported, "folder": str(cache.root / name)})
        return
    table = Table(title=f"imported into {cache.root / name}")
    for col in ("file", "asset", "timeframe", "rows", "dropped rows"):
        table.add_column(col)
    for r in imported:
        table.add_row(r["file"], r["asset"], r["timeframe"], str(r["rows"]), str(r["dropped_rows"]))
    console.print(table)
    console.print(f"use it with --prices {cache.root / name}; run `althedge data check "
                  f"{cache.root / name}` to see the defects")


def _not_offered(err: BaseException) -> bool:
    """True when ``err`` comes from ccxt's NotSupported: the exchange lacks the endpoint."""
    import ccxt

    return isinstance(err.__cause__, ccxt.NotSupported)


def _check_order(start: Any, end: Any, first: str, last: str) -> None:
    """Refuse a range whose start is after its end (one line naming both flags)."""
    if start is not None and end is not None and start > end:
        raise InputError(f"{first}/{last}: {first} {start.date()} is after {last} "
                         f"{end.date()}; swap them")


def _check_path(path: Path, timeframe: str | None) -> tuple[list[Finding], int]:
    from althedge.data.files import read_ohlcv, scan_folder
    from althedge.data.quality import check_series
    from althedge.data.sources import FileSource

    if path.is_file():
        entry = next((e for e in scan_folder(path.parent) if Path(str(e.file)).name == path.name),
                     None)
        symbol = entry.asset if entry else path.stem
        tf = timeframe or (entry.timeframe if entry else None)
        return check_series(symbol, read_ohlcv(path), timeframe=tf), 1
    src = FileSource(path)
    findings: list[Finding] = []
    count = 0
    for tf in src.timeframes():
        if timeframe and tf != timeframe:
            continue
        for asset in src.symbols(tf):
            label = asset if tf == "1d" else f"{asset} {tf}"
            findings.extend(check_series(label, src.raw(asset, tf), timeframe=tf))
            count += 1
    return findings, count


@app.command("check")
def check(
    target: str = typer.Argument(..., help="A file or folder of price files, 'bundled', or "
                                 "comma-separated assets (SOL,BTC) read from --prices/--exchange."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="1d or 1h (default: all in a "
                                         "folder, 1d for assets)."),
    prices: str | None = typer.Option(None, "--prices", help="Folder of price files for assets "
                                      "(default: the bundled data)."),
    exchange: str | None = typer.Option(None, "--exchange", help="Check the cached data of this "
                                        "exchange (run `data fetch` first)."),
    start: str | None = typer.Option(None, "--start", help="Only bars from this date."),
    end: str | None = typer.Option(None, "--end", help="Only bars up to this date."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Run the quality checks. Exit code 3 when any finding is an error, 0 otherwise."""
    from althedge.data.quality import ERROR, check_closes
    from althedge.data.sources import check_timeframe, normalise_asset, open_source, to_timestamp

    _check_order(to_timestamp(start, "--start"), to_timestamp(end, "--end"), "--start", "--end")
    if timeframe is not None:
        check_timeframe(timeframe)
    path = Path(target).expanduser()
    if target != "bundled" and path.exists() and prices is None and exchange is None:
        findings, count = _check_path(path, timeframe)
    else:
        if exchange is not None:
            from althedge.data.ccxt_source import CcxtPriceSource

            source: Any = CcxtPriceSource(exchange, data_dir=_data_dir(data_dir), offline=True)
        else:
            source = open_source(prices)
        if target == "bundled":
            assets = source.symbols()
        else:
            assets = [normalise_asset(a) for a in target.split(",") if a.strip()]
            if not assets:
                raise InputError("check: name a file, a folder, 'bundled' or assets like SOL,BTC")
            if len(assets) == 1 and ("/" in target or "." in target) and not path.exists():
                raise InputError(f"check: {target} is not an existing file or folder")
        closes = source.closes(assets, start=start, end=end, timeframe=timeframe or "1d")
        findings = check_closes(closes, timeframe=timeframe or "1d")
        count = len(assets)
    errors = sum(1 for f in findings if f.severity == ERROR)
    if as_json:
        emit_json({"findings": [f.to_dict() for f in findings], "series_checked": count,
                   "errors": errors, "warnings": len(findings) - errors})
    else:
        _print_findings(findings, count)
    if errors:
        raise typer.Exit(QUALITY_EXIT_CODE)


def _print_findings(findings: list[Finding], count: int, max_warnings: int = 5) -> None:
    """All errors, and at most ``max_warnings`` warnings per series (``--json`` has all)."""
    from althedge.data.quality import ERROR

    hidden = 0
    if findings:
        table = compact_table("data-quality findings", show_lines=True)
        for col in ("symbol", "severity", "kind", "timestamp"):
            table.add_column(col, no_wrap=True)
        table.add_column("detail", overflow="fold", ratio=1)
        shown: dict[str, int] = {}
        for f in findings:
            if f.severity == ERROR:
                sev = f"[bold red]{f.severity}[/]"
            else:
                shown[f.symbol] = shown.get(f.symbol, 0) + 1
                if shown[f.symbol] > max_warnings:
                    hidden += 1
                    continue
                sev = f"[yellow]{f.severity}[/]"
            table.add_row(f.symbol, sev, f.kind, f.timestamp or "-", f.detail)
        console.print(table)
    if hidden:
        console.print(f"({hidden} more warning(s) not shown; use --json to see all)")
    errors = sum(1 for f in findings if f.severity == ERROR)
    bad = sorted({f.symbol for f in findings if f.severity == ERROR})
    console.print(f"{count} series checked: {errors} error(s), {len(findings) - errors} "
                  f"warning(s)" + (f"; unusable: {', '.join(bad)}" if bad else ""))


__all__ = ["app"]
