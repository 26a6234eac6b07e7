"""The registry's logs: plain text, or one JSON object per line, each line carrying the id of
the request it was written for.

A request's id is its ``X-Request-Id`` header when that is a sane token (1 to 64 characters of
``A-Z a-z 0-9 . _ -``), otherwise one generated here; the answer echoes it in ``X-Request-Id``.
It follows an upload into its verification task: the registry sends it as the Celery message
header ``clawft_request_id`` (:func:`celery_headers`), and a worker whose logging was set up
by :func:`configure_logging` sets it again while the task runs (Celery's ``task_prerun`` and
``task_postrun`` signals), so the task's lines carry the upload request's id.

``CLAWFT_LOG_FORMAT`` chooses the format, read once by :func:`configure_logging`: ``text``
(the default) or ``json``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, Literal

from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CELERY_HEADER",
    "LOG_FORMAT_VARIABLE",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "celery_headers",
    "configure_logging",
    "current_request_id",
    "echo_request_id",
    "sane_request_id",
]

LOG_FORMAT_VARIABLE = "CLAWFT_LOG_FORMAT"
REQUEST_ID_HEADER = "X-Request-Id"
CELERY_HEADER = "clawft_request_id"
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]

_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_STATE_KEY = "clawft_request_id"
_request_id: ContextVar[str | None] = ContextVar("clawft_request_id", default=None)

# What every LogRecord has; anything else on a record was passed with ``extra=`` and is logged.
_BLANK_RECORD = logging.LogRecord("", 0, "", 0, "", None, None)
_RECORD_FIELDS = frozenset(_BLANK_RECORD.__dict__) | {"message", "asctime", "request_id"}


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it may be logged and echoed as is, else ``None``."""
    if value is None or not _SANE.fullmatch(value):
        return None
    return value


def current_request_id() -> str | None:
    """The id of the request (or of the upload's request, in its task) being served now."""
    return _request_id.get()


def celery_headers() -> dict[str, str]:
    """Headers that carry the current request id into a Celery task (none outside a request)."""
    current = _request_id.get()
    return {CELERY_HEADER: current} if current is not None else {}


# ----------------------------------------------------------------------------- HTTP


def _request_id_of(scope: Scope) -> str:
    """The request's id, chosen once per request and kept in its scope's state."""
    state = scope.setdefault("state", {})
    chosen = state.get(_STATE_KEY)
    if isinstance(chosen, str):
        return chosen
    given: str | None = None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-request-id":
            try:
                given = value.decode("ascii")
            except UnicodeDecodeError:
                given = None
            break
    chosen = sane_request_id(given) or uuid.uuid4().hex
    state[_STATE_KEY] = chosen
    return chosen


class RequestIdMiddleware(ASGIMiddleware):
    """Sets the request id for everything a route's handler logs (threads included)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = _request_id.set(_request_id_of(scope))
        try:
            await next_app(scope, receive, send)
        finally:
            _request_id.reset(token)


async def echo_request_id(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every answer (unrouted ones too) carries ``X-Request-Id``."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        headers[REQUEST_ID_HEADER] = _request_id_of(scope)


# ----------------------------------------------------------------------------- records


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``None`` outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id``, every ``extra=`` field, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_format(environ: Mapping[str, str] | None = None) -> LogFormat:
    """``CLAWFT_LOG_FORMAT``: ``text`` (unset or empty) or ``json``."""
    env = os.environ if environ is None else environ
    raw = env.get(LOG_FORMAT_VARIABLE, "").strip().lower()
    if raw in ("", "text"):
        return "text"
    if raw == "json":
        return "json"
    raise ValueError(f"{LOG_FORMAT_VARIABLE}={raw!r} is not a log format: use text or json")


def configure_logging(
    environ: Mapping[str, str] | None = None, *, level: int = logging.INFO, celery: bool = False
) -> LogFormat:
    """Log to stderr in the format ``CLAWFT_LOG_FORMAT`` names; return it.

    ``celery``: this process runs Celery tasks: their lines carry the id of the request that
    queued them, and in ``json`` Celery is told to leave this configuration alone.
    """
    chosen = log_format(environ)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    if celery:
        _bind_celery_tasks(keep_logging=chosen == "json")
    return chosen


# ----------------------------------------------------------------------------- Celery

_task_tokens: dict[str, Token[str | None]] = {}


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    given = getattr(request, CELERY_HEADER, None)
    if given is None:
        headers = getattr(request, "headers", None)
        given = headers.get(CELERY_HEADER) if isinstance(headers, dict) else None
    chosen = sane_request_id(given if isinstance(given, str) else None)
    if task_id is not None:
        _task_tokens[task_id] = _request_id.set(chosen)


def _task_ended(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (a thread pool): clear it instead
            _request_id.set(None)


def _leave_logging_alone(**_: Any) -> None:
    """A ``setup_logging`` receiver: Celery then keeps the configuration it finds."""


def _bind_celery_tasks(*, keep_logging: bool) -> None:
    from celery import signals

    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="clawft-request-id")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="clawft-request-id")
    if keep_logging:
        signals.setup_logging.connect(
            _leave_logging_alone, weak=False, dispatch_uid="clawft-logging"
        )
