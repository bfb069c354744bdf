"""Structured logs: one JSON object a line, and one access-log line per request.

The access line carries the request id (``X-Request-ID`` taken from the caller when it is
sane, else made here, and always sent back), method, path with its query, status,
``duration_ms``, the principal's name and the client address. A ``code`` query parameter
(the redemption page's ``/redeem?code=…``) is masked before anything is written: a code in
an access log is a code in clear in every log store it is shipped to. So is the ``sig`` of
a portal sign-in link (``/portal/link?…&sig=…``), a credential until the link expires.
Uvicorn's own access log, which would print the raw query, is turned off by ``vouchers
serve``.

The same middleware feeds the metrics (``vouchers.entrypoints.api.metrics``), so both see
the same route template, status and duration.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOGGER = "vouchers.access"
REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MASKED_PARAMETERS = frozenset({"code", "sig"})
LOG_MASK = "*"  # not the display mask "•": logs stay ASCII and unescaped
_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "principal", "client")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message and request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record (ours and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # it would log codes in clear


def mask_code(value: str) -> str:
    """A code as logs may show it: its last four characters at most, never a short one."""
    tail = value[-4:] if len(value) >= 12 else ""
    return LOG_MASK * 4 + tail


def mask_query(query: str) -> str:
    """The query string with every ``code`` and ``sig`` parameter masked (and nothing else
    changed)."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in MASKED_PARAMETERS for name, _ in pairs):
        return query
    return urlencode(
        [
            (name, mask_code(value) if name.lower() in MASKED_PARAMETERS else value)
            for name, value in pairs
        ],
        safe=LOG_MASK,
    )


class Observer(Protocol):
    """What the middleware tells once a request is answered (the metrics implement it)."""

    def observe(
        self, *, method: str, route: str, status: int, seconds: float, problem: str | None
    ) -> None:
        """Record one request."""
        ...


class RequestLog:
    """ASGI middleware: request id in and out, one access-log line, one metrics sample."""

    def __init__(self, app: ASGIApp, observer: Observer | None = None) -> None:
        self.app = app
        self.observer = observer
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, request_id, status, time.perf_counter() - started)

    def _done(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        query = mask_query(scope.get("query_string", b"").decode("latin-1"))
        path = scope.get("path", "") + (f"?{query}" if query else "")
        client = scope.get("client")
        self.log.info(
            "%s %s %s",
            scope["method"],
            path,
            status,
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "principal": _actor(principal),
                "client": client[0] if client else None,
            },
        )
        if self.observer is not None:
            self.observer.observe(
                method=scope["method"],
                route=route_template(scope),
                status=status,
                seconds=seconds,
                problem=state.get("problem"),
            )


def route_template(scope: Scope) -> str:
    """The matched route's full template (``/api/v1/lots/{code}``), ``unmatched`` if none.

    A route included through prefixed routers knows only its own part of the path, so the
    prefix is taken from the request path: as many leading segments as the template lacks.
    """
    route_path = getattr(scope.get("route"), "path", None)
    if not isinstance(route_path, str):
        return "unmatched"
    path: str = scope.get("path", "")
    segments = path.rstrip("/").split("/")
    own = len(route_path.rstrip("/").split("/")) - 1
    prefix = "/".join(segments[: len(segments) - own]) if own else path.rstrip("/")
    return prefix + route_path if route_path != "/" or not prefix else prefix


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text: str = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


def _actor(principal: Any) -> str | None:
    if principal is None:
        return None
    prefix = {"staff": "", "api_key": "key:", "customer": "customer:"}.get(
        str(getattr(principal, "kind", "")), ""
    )
    return f"{prefix}{principal.name}"
