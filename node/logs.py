"""Log lines as text or one JSON object each, and a request id that every line of a request carries."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = "X-Request-Id"
# An incoming id is echoed and logged: only a short, plain token may pass, never markup or a log-line forger.
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")

access_log = logging.getLogger("node.access")
log = logging.getLogger(__name__)

# What every LogRecord carries; anything else on a record came from a call's `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "request_id", "taskName"}


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id`: the current request's, or None outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic one-line format, with ` [req=…]` inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [req={request_id}]" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the call's extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                    + f"{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, fmt: str = "text") -> None:
    """Send every logger's records to stderr at `level`, as text or JSON lines."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # A warning printed straight to stderr would be the one line a JSON collector cannot parse.
    logging.captureWarnings(True)


# Route parameters that are secrets (invitation and reset links): whoever reads the log must not be able to use them.
SECRET_PARAMS = ("token",)


def loggable_path(request: web.Request) -> str:
    """The request's path with the value of every secret route parameter replaced."""
    path = request.path
    for name in SECRET_PARAMS:
        value = request.match_info.get(name)
        if value:
            path = path.replace(value, "[redacted]")
    return path


def _incoming_or_new(request: web.Request) -> str:
    incoming = request.headers.get(HEADER)
    if incoming is not None and SANE_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


async def _answer(request: web.Request, handler, request_id: str) -> web.StreamResponse:
    """The handler's response; any exception becomes an HTTPException carrying the id."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        exc.headers[HEADER] = request_id
        raise
    except TimeoutError:
        raise web.HTTPGatewayTimeout(headers={HEADER: request_id}) from None
    except Exception:
        # Logged here, not by aiohttp, so the traceback carries the request id as well.
        log.exception("error handling %s %s", request.method, loggable_path(request))
        raise web.HTTPInternalServerError(headers={HEADER: request_id}) from None


def request_ids(log_requests: bool = False):
    """The outermost middleware: a request id in the context and in the response's X-Request-Id.

    With `log_requests`, one INFO line per request (method, path, status, duration).
    """

    @web.middleware
    async def request_id_middleware(request: web.Request, handler) -> web.StreamResponse:
        request_id = _incoming_or_new(request)
        token = REQUEST_ID.set(request_id)
        try:
            response = await _answer(request, handler, request_id)
        finally:
            REQUEST_ID.reset(token)
        if not response.prepared:
            response.headers[HEADER] = request_id
        return response

    @web.middleware
    async def request_id_access_middleware(request: web.Request, handler) -> web.StreamResponse:
        request_id = _incoming_or_new(request)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 499  # stays so only when the handler was cancelled: the client went away
        try:
            response = await _answer(request, handler, request_id)
            status = response.status
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            path = loggable_path(request)
            access_log.info("%s %s %d %.1f ms", request.method, path, status, duration_ms,
                            extra={"method": request.method, "path": path, "status": status,
                                   "duration_ms": duration_ms})
            REQUEST_ID.reset(token)
        if not response.prepared:
            response.headers[HEADER] = request_id
        return response

    return request_id_access_middleware if log_requests else request_id_middleware
