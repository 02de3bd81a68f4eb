"""Offline exchanges: serve recorded (or hand-written) HTTP responses to a real ccxt object.

ccxt builds and signs every request as usual and hands it to its ``requests`` session; the
:class:`ReplayAdapter` mounted on that session answers from a *router* instead of the network
and records each request it saw. Everything above the socket — URL building, signing, rate
limiting, response parsing, mapping HTTP and exchange error codes to ``ccxt`` exceptions — is
ccxt's real code. Used by the tests (``tests/fixtures/ccxt_data``) and usable for demos with no
network::

    ex = ccxt.binance()
    replay = ReplayAdapter(router)          # router(request) -> Reply | raises requests.Timeout
    replay.install(ex)
    ex.fetch_ohlcv("SOL/USDT", "1d")        # answered by router, request kept in replay.requests

A router is any callable ``(RecordedRequest) -> Reply``; :class:`FixtureRouter` serves JSON
files by path and can slice candle lists by the ``startTime``/``limit`` style parameters so
that pagination behaves like the real endpoint.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request ccxt tried to send (never sent)."""

    method: str
    url: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]
    body: str | None

    def param(self, *names: str, default: str | None = None) -> str | None:
        """First present query/body parameter among ``names``."""
        for n in names:
            if n in self.params:
                return self.params[n]
        return default


@dataclass
class Reply:
    """What the fake server answers: an HTTP status, a JSON body, optional headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Router = Callable[[RecordedRequest], Reply]


class ReplayAdapter(BaseAdapter):
    """A ``requests`` transport that answers from a router and records every request."""

    def __init__(self, router: Router) -> None:
        super().__init__()
        self.router = router
        self.requests: list[RecordedRequest] = []

    def install(self, exchange: Any) -> ReplayAdapter:
        """Mount on a ccxt exchange's session for http and https; returns self."""
        exchange.session.mount("https://", self)
        exchange.session.mount("http://", self)
        return self

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        url = str(request.url)
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        raw_body = request.body
        body: str | None = (raw_body.decode() if isinstance(raw_body, bytes)
                            else raw_body if isinstance(raw_body, str) else None)
        if body and body.lstrip().startswith("{"):
            with contextlib.suppress(ValueError, AttributeError):
                params.update({k: str(v) for k, v in json.loads(body).items()})
        elif body:
            params.update(dict(parse_qsl(body, keep_blank_values=True)))
        headers = {str(k): v if isinstance(v, str) else v.decode()
                   for k, v in request.headers.items()}
        rec = RecordedRequest(str(request.method), url, parts.path, params, headers, body)
        self.requests.append(rec)
        reply = self.router(rec)  # may raise requests.Timeout / ConnectionError
        resp = requests.Response()
        resp.status_code = reply.status
        resp.reason = requests.status_codes._codes.get(reply.status, ("",))[0].upper()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **reply.headers})
        resp._content = (reply.body if isinstance(reply.body, bytes)
                         else json.dumps(reply.body).encode())
        resp.url = url
        resp.request = request
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        """Nothing to release."""

    def paths(self) -> list[str]:
        """The URL paths requested so far, in order."""
        return [r.path for r in self.requests]


class FixtureRouter:
    """Serve ``{path: file or JSON}`` routes; unknown paths get a 404 with a readable body.

    ``routes`` maps a URL path (exact, e.g. ``/api/v3/exchangeInfo``) to either a JSON file
    name under ``folder``, an already-loaded object, or a callable ``(request) -> Reply``.
    ``queue`` lets a test script failures: ``queue[path]`` is a list of replies or exceptions
    served (and consumed) before the normal route.
    """

    def __init__(self, folder: Path, routes: Mapping[str, Any]) -> None:
        self.folder = folder
        self.routes = dict(routes)
        self.queue: dict[str, list[Reply | BaseException]] = {}

    def load(self, name: str) -> Any:
        """Load a JSON fixture file from the folder."""
        return json.loads((self.folder / name).read_text())

    def __call__(self, req: RecordedRequest) -> Reply:
        pending = self.queue.get(req.path)
        if pending:
            item = pending.pop(0)
            if isinstance(item, BaseException):
                raise item
            return item
        route = self.routes.get(req.path)
        if route is None:
            return Reply({"error": f"no fixture for {req.path}"}, status=404)
        if callable(route):
            result = route(req)
            return result if isinstance(result, Reply) else Reply(result)
        if isinstance(route, str) and route.endswith(".json"):
            return Reply(self.load(route))
        return Reply(route)
