"""The local dashboard: FastAPI pages (Jinja2) and a JSON API over the services.

``create_app(ServerConfig(...))`` builds the app ``althedge serve`` runs with uvicorn.
Pages: ``/`` portfolio & plan, ``/hedge`` (status, history, previews, actions),
``/levels``, ``/backtest``, ``/data``. The API under ``/api/…`` returns the CLI's
``--json`` objects (see :mod:`althedge.web.context`), described at ``/openapi.json`` and
listed on the ``/api`` page (FastAPI's own ``/docs`` loads Swagger UI from a CDN: off).

Safety: everything is a dry run unless the server was started with ``--allow-live``;
then a live action also needs the server's token typed into the confirmation form
(never embedded in the page, so another site cannot forge the request). Requests
whose Host header is not this server's are refused (DNS rebinding); off loopback
every request needs the token (``?token=`` once, then a cookie). API keys stay on
the server. Errors are the CLI's one-line messages, on the page, server running.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import uuid
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from althedge.errors import AlthedgeError, InputError
from althedge.web import context as ctx
from althedge.web.context import ServerConfig, jsonable

HERE = Path(__file__).resolve().parent
COOKIE = "althedge_token"
PAGES = (("/", "Portfolio & plan"), ("/hedge", "Hedge"), ("/levels", "Levels"),
         ("/backtest", "Backtest"), ("/data", "Data"))


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _fmt(x: Any, spec: str = ",.2f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if isinstance(x, int | float):
        return format(x + 0.0 if isinstance(x, float) else x, spec)
    return str(x)


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a date; use YYYY-MM-DD") from None


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what the pages' forms post) as a dict."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _int(form: dict[str, str], key: str, default: int) -> int:
    text = form.get(key, "")
    try:
        return int(text) if text != "" else default
    except ValueError:
        raise InputError(f"{key}: {text!r} is not a whole number") from None


def _float(form: dict[str, str], key: str, default: float) -> float:
    text = form.get(key, "")
    try:
        return float(text) if text != "" else default
    except ValueError:
        raise InputError(f"{key}: {text!r} is not a number, e.g. 10") from None


def _form_schema(**fields: str) -> dict[str, Any]:
    """OpenAPI description of a form body (fields: name → description)."""
    props = {k: {"type": "string", "description": v} for k, v in fields.items()}
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": props}}}}}


ACTION_FIELDS = {
    "action": "open | rebalance | close",
    "portfolio": "index of the server's portfolio files (0 = first)",
    "threshold": "rebalance: resize a leg only when off by more than this %",
    "limit_at": "poc | vah | val | hvn | a price (USD): the limit price",
}


class _Jobs:
    """Backtests running in background threads, with their progress."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="althedge-web-"))

    def start(self, portfolio: int | None, compare: str, timeframe: str, start: str | None,
              end: str | None) -> str:
        from althedge.config import load_portfolio
        from althedge.services.backtest import BacktestSettings, parse_policy_list

        path = self.cfg.portfolio_path(portfolio)
        pf = load_portfolio(path)  # errors surface now, on the page
        specs = parse_policy_list(compare or "plan,auto,none", portfolio=pf)
        settings = BacktestSettings(start=_date(start, "start") and start,
                                    end=_date(end, "end") and end, timeframe=timeframe)
        job_id = uuid.uuid4().hex[:12]
        job: dict[str, Any] = {"id": job_id, "state": "running", "label": "starting",
                               "fraction": 0.0, "error": None, "result": None}
        with self.lock:
            self.jobs[job_id] = job

        def progress(label: str, fraction: float) -> None:
            job["label"], job["fraction"] = label, float(fraction)

        def run() -> None:
            from althedge.services.backtest import run_backtest
            from althedge.services.report import write_html_report

            try:
                result = run_backtest(pf, self.cfg.source, specs, settings, progress=progress)
                progress("writing the report", 0.98)
                write_html_report(result, self.folder / f"{job_id}.html")
                job["result"] = jsonable(result.to_dict())
                job["state"], job["fraction"], job["label"] = "done", 1.0, "done"
            except AlthedgeError as exc:
                job["state"], job["error"] = "failed", str(exc)
            except Exception as exc:  # the server stays up; the page says what failed
                job["state"], job["error"] = "failed", f"backtest failed: {exc}"

        threading.Thread(target=run, name=f"backtest-{job_id}", daemon=True).start()
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise InputError(f"backtest: no job {job_id!r}; start one on the Backtest page")
        return job


def create_app(cfg: ServerConfig) -> FastAPI:
    """The dashboard app for ``cfg`` (see the module docstring)."""
    app = FastAPI(title="althedge", version=_version(),
                  description="althedge dashboard API: the same JSON as the CLI's --json.",
                  docs_url=None, redoc_url=None)  # FastAPI's pages load from a CDN: /api instead
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["f"] = _fmt
    templates.env.globals.update(pages=PAGES, cfg=cfg)
    jobs = _Jobs(cfg)
    app.state.cfg, app.state.jobs = cfg, jobs

    allowed_hosts = {f"{h}:{cfg.port}" for h in ("127.0.0.1", "localhost", "[::1]")}
    allowed_hosts |= {"127.0.0.1", "localhost", f"{cfg.host}:{cfg.port}", cfg.host}

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host", "")
        if cfg.loopback and host not in allowed_hosts:
            return JSONResponse({"error": f"host {host!r} refused: this server answers only "
                                 "on loopback"}, status_code=403)
        if not cfg.loopback:
            given = (request.query_params.get("token") or request.cookies.get(COOKIE)
                     or request.headers.get("x-althedge-token") or "")
            if not secrets.compare_digest(given, cfg.token):
                return JSONResponse({"error": "token: this server is bound to "
                                     f"{cfg.host}; open it with ?token=… (printed at start)"},
                                    status_code=401)
            response: Response = await call_next(request)
            if request.query_params.get("token"):
                response.set_cookie(COOKIE, cfg.token, httponly=True, samesite="strict")
            return response
        response = await call_next(request)
        return response

    @app.exception_handler(AlthedgeError)
    async def on_error(request: Request, exc: AlthedgeError) -> Response:
        status = 400 if isinstance(exc, InputError) else 502 if exc.exit_code == 4 else 409
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc), "exit_code": exc.exit_code},
                                status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"error": str(exc), "active": request.url.path},
            status_code=status)

    def page(request: Request, name: str, **data: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"active": request.url.path, **data})

    # ----------------------------------------------------------------- static
    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_js(), media_type="application/javascript")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in ("app.js", "style.css"):
            raise InputError(f"static: no file {name!r}")
        media = "application/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(HERE / "static" / name, media_type=media)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    # ----------------------------------------------------------------- API
    @app.get("/api/plan", tags=["plan"], summary="althedge plan FILE --as-of D --json")
    def api_plan(portfolio: int = 0, as_of: str | None = None) -> dict[str, Any]:
        return ctx.plan_dict(cfg, portfolio, _date(as_of, "as_of"))

    @app.get("/api/levels", tags=["levels"], summary="althedge levels ASSET --json")
    def api_levels(asset: str = "BTC", days: int = 30, timeframe: str | None = None,
                   bins: int = 50, as_of: str | None = None) -> dict[str, Any]:
        return ctx.levels_dict(cfg, asset, days, timeframe or None, bins,
                               _date(as_of, "as_of"))[0]

    @app.get("/api/hedge/status", tags=["hedge"], summary="althedge hedge status --json")
    def api_status() -> dict[str, Any]:
        return ctx.status_dict(cfg)

    @app.get("/api/hedge/history", tags=["hedge"], summary="journal snapshots and alerts")
    def api_history() -> dict[str, Any]:
        return ctx.history_dict(cfg)

    @app.post("/api/hedge/preview", tags=["hedge"],
              summary="althedge hedge open|rebalance|close --json (dry run)",
              openapi_extra=_form_schema(**ACTION_FIELDS))
    async def api_preview(request: Request) -> dict[str, Any]:
        form = await _form(request)
        out: dict[str, Any] = await run_in_threadpool(_action, form, False)
        return out

    @app.post("/api/hedge/execute", tags=["hedge"],
              summary="the same with --live: needs --allow-live, the token and confirm=yes",
              openapi_extra=_form_schema(**ACTION_FIELDS, token="the server token",
                                         confirm="yes"))
    async def api_execute(request: Request) -> Response:
        form = await _form(request)
        refusal = _refuse_live(cfg, form.get("token", ""), form.get("confirm", ""))
        if refusal:
            return JSONResponse({"error": refusal, "exit_code": 2}, status_code=403)
        return JSONResponse(await run_in_threadpool(_action, form, True))

    @app.post("/api/monitor/check", tags=["hedge"],
              summary="althedge monitor --iterations 1 --json (snapshot + alerts)")
    def api_monitor_check() -> dict[str, Any]:
        return ctx.monitor_once(cfg)

    @app.get("/api/data", tags=["data"], summary="series and quality findings")
    def api_data(refresh: bool = False) -> dict[str, Any]:
        return ctx.data_dict(cfg, refresh)

    @app.post("/api/backtest", tags=["backtest"], summary="start a backtest (a job)",
              openapi_extra=_form_schema(portfolio="index of the portfolio files",
                                         compare="policies, e.g. plan,auto,none",
                                         timeframe="1d | 1h", start="YYYY-MM-DD",
                                         end="YYYY-MM-DD"))
    async def api_backtest(request: Request) -> dict[str, Any]:
        f = await _form(request)
        job = await run_in_threadpool(
            jobs.start, _int(f, "portfolio", 0), f.get("compare") or "plan,auto,none",
            f.get("timeframe") or "1d", f.get("start") or None, f.get("end") or None)
        return {"job": job}

    @app.get("/api/backtest/{job_id}", tags=["backtest"], summary="progress and result")
    def api_backtest_job(job_id: str) -> dict[str, Any]:
        return jobs.get(job_id)

    # ----------------------------------------------------------------- pages
    @app.get("/api", response_class=HTMLResponse, include_in_schema=False)
    def api_page(request: Request) -> HTMLResponse:
        return page(request, "api.html", spec=app.openapi())

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def plan_page(request: Request, portfolio: int = 0, as_of: str = "") -> HTMLResponse:
        day = _date(as_of, "as_of")
        return page(request, "plan.html", plan=ctx.plan_dict(cfg, portfolio, day),
                    portfolio=portfolio, as_of=as_of)

    @app.get("/hedge", response_class=HTMLResponse, include_in_schema=False)
    def hedge_page(request: Request) -> HTMLResponse:
        history = ctx.history_dict(cfg)
        return page(request, "hedge.html", status=ctx.status_dict(cfg), history=history,
                    history_json=_script_json(history), preview=None)

    def _action(form: dict[str, str], live: bool) -> dict[str, Any]:
        return ctx.hedge_action(cfg, form.get("action", ""), live=live,
                                portfolio=_int(form, "portfolio", 0),
                                threshold_pct=_float(form, "threshold", 10.0),
                                limit_at=form.get("limit_at") or None)

    def _hedge_with(request: Request, form: dict[str, str], live: bool) -> HTMLResponse:
        result = _action(form, live)
        history = ctx.history_dict(cfg)
        return page(request, "hedge.html", status=ctx.status_dict(cfg), history=history,
                    history_json=_script_json(history), preview=result,
                    action=form.get("action"), executed=live,
                    form={"portfolio": _int(form, "portfolio", 0),
                          "threshold": _float(form, "threshold", 10.0),
                          "limit_at": form.get("limit_at", "")})

    @app.post("/hedge/check", response_class=HTMLResponse, include_in_schema=False)
    def hedge_check(request: Request) -> HTMLResponse:
        checked = ctx.monitor_once(cfg)
        history = ctx.history_dict(cfg)
        return page(request, "hedge.html", status=ctx.status_dict(cfg), history=history,
                    history_json=_script_json(history), preview=None, checked=checked)

    @app.post("/hedge/preview", response_class=HTMLResponse, include_in_schema=False)
    async def hedge_preview(request: Request) -> HTMLResponse:
        form = await _form(request)
        out: HTMLResponse = await run_in_threadpool(_hedge_with, request, form, False)
        return out

    @app.post("/hedge/execute", response_class=HTMLResponse, include_in_schema=False)
    async def hedge_execute(request: Request) -> HTMLResponse:
        form = await _form(request)
        refusal = _refuse_live(cfg, form.get("token", ""), form.get("confirm", ""))
        if refusal:
            return templates.TemplateResponse(request, "error.html",
                                              {"error": refusal, "active": "/hedge"},
                                              status_code=403)
        out: HTMLResponse = await run_in_threadpool(_hedge_with, request, form, True)
        return out

    @app.get("/levels", response_class=HTMLResponse, include_in_schema=False)
    def levels_page(request: Request, asset: str = "BTC", days: int = 30, timeframe: str = "",
                    bins: int = 50, as_of: str = "") -> HTMLResponse:
        data, fig = ctx.levels_dict(cfg, asset, days, timeframe or None, bins,
                                    _date(as_of, "as_of"))
        va = f"{data['value_area_pct']:g} %"
        rows = [(f"value-area high ({va})", "value_area_high_usd", data["value_area_high_usd"]),
                ("point of control", "poc_usd", data["poc_usd"]),
                (f"value-area low ({va})", "value_area_low_usd", data["value_area_low_usd"])]
        rows += [("high-volume node", "", p) for p in data["hvn_usd"]]
        rows += [("low-volume node", "", p) for p in data["lvn_usd"]]
        rows.sort(key=lambda r: -r[2])
        return page(request, "levels.html", levels=data, level_rows=rows,
                    figure_json=fig.to_json().replace("</", "<\\/"),
                    form={"asset": asset, "days": days, "timeframe": timeframe, "bins": bins,
                          "as_of": as_of})

    @app.get("/backtest", response_class=HTMLResponse, include_in_schema=False)
    def backtest_page(request: Request, job: str = "") -> HTMLResponse:
        found = jobs.get(job) if job else None
        return page(request, "backtest.html", job=found)

    @app.get("/backtest/{job_id}/report.html", include_in_schema=False)
    def backtest_report(job_id: str) -> FileResponse:
        jobs.get(job_id)
        path = jobs.folder / f"{job_id}.html"
        if not path.is_file():
            raise InputError("backtest: the report is not written yet; wait for the job")
        return FileResponse(path, media_type="text/html")

    @app.get("/data", response_class=HTMLResponse, include_in_schema=False)
    def data_page(request: Request, refresh: bool = False) -> HTMLResponse:
        return page(request, "data.html", data=ctx.data_dict(cfg, refresh))

    return app


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


def _refuse_live(cfg: ServerConfig, token: str, confirm: str) -> str | None:
    """Why a live action is refused, or None."""
    if not cfg.allow_live:
        return ("live: this server was started without --allow-live; previews only "
                "(restart with `althedge serve --allow-live` to send orders)")
    if not token or not secrets.compare_digest(token, cfg.token):
        return "token: wrong or missing; type the token `althedge serve` printed at start"
    if confirm != "yes":
        return "confirm: tick the confirmation box to send live orders"
    return None


def _version() -> str:
    from althedge import __version__

    return __version__


def template_files() -> list[str]:
    """The templates shipped with the package (for the packaging test)."""
    return sorted(p.name for p in (resources.files("althedge.web") / "templates").iterdir())
