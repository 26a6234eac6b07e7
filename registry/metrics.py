"""The registry's Prometheus metrics, and ``GET /metrics`` that serves them.

Multi-process: with ``PROMETHEUS_MULTIPROC_DIR`` set (read by prometheus-client when it is
imported, so set it before the process starts), every process (HTTP workers, Celery workers)
writes its values to files there and ``/metrics`` adds up the directory's; empty it before the
processes start, as prometheus-client asks. Unset, each process counts alone and serves its own.

Every label value comes from a bounded set the registry chooses (outcomes, error codes, check
names, file kinds, route templates, HTTP statuses), never from what a client sent: a plugin's
name or a token can never become a series.

    clawft_uploads_total{outcome, reason}              publish answers: accepted, or refused
                                                        with the error code
    clawft_verdicts_total{verdict, check}              verdicts recorded; check: the first
                                                        failing check ("" when approved)
    clawft_verification_latency_seconds                upload accepted → verdict recorded
    clawft_verification_queue_depth{state}             outbox jobs awaiting a verdict, counted
                                                        in the database at scrape time
    clawft_downloads_total{kind, status}               download answers
    clawft_download_bytes_total{kind}                  bytes of download bodies sent
    clawft_rate_limited_total{route}                   429 answers
    clawft_tuf_sign_seconds{task}                      TUF publish and refresh task runs
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import msgspec
import sqlalchemy as sa
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import Message, Scope
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    ThreadingWSGIServer,
    make_wsgi_app,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from registry.db import Database, DatabaseUnavailable, VerificationJob
from registry.db.models import JobState
from registry.errors import RegistryError
from verifier.checks import CHECK_ORDER
from verifier.report import VerificationReport

__all__ = [
    "MULTIPROC_DIR",
    "MetricsController",
    "count_answers",
    "exposition",
    "mark_download",
    "serve_worker_metrics",
    "timed_tuf_sign",
    "verdict_recorded",
]

_log = logging.getLogger("clawft.registry.metrics")

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
"""Where the processes' values are shared; ``None``: this process counts alone."""

METRICS = CollectorRegistry(auto_describe=True)
"""This process's metrics (what ``/metrics`` serves when not in multi-process mode)."""

UPLOADS = Counter(
    "clawft_uploads",
    "Publish requests answered: accepted, or refused with the error code as reason.",
    ["outcome", "reason"],
    registry=METRICS,
)
VERDICTS = Counter(
    "clawft_verdicts",
    "Verdicts recorded, by verdict and first failing check (empty when approved).",
    ["verdict", "check"],
    registry=METRICS,
)
VERIFICATION_LATENCY = Histogram(
    "clawft_verification_latency_seconds",
    "From the upload's acceptance to its verdict being recorded (queue wait included).",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
    registry=METRICS,
)
DOWNLOADS = Counter(
    "clawft_downloads",
    "Download requests answered, by kind of file and HTTP status.",
    ["kind", "status"],
    registry=METRICS,
)
DOWNLOAD_BYTES = Counter(
    "clawft_download_bytes",
    "Bytes of download bodies sent (redirects and 304s send none).",
    ["kind"],
    registry=METRICS,
)
RATE_LIMITED = Counter(
    "clawft_rate_limited",
    "Requests refused with 429, by route template.",
    ["route"],
    registry=METRICS,
)
TUF_SIGN = Histogram(
    "clawft_tuf_sign_seconds",
    "Runs of the TUF tasks: re-signing changed bins, snapshot and timestamp.",
    ["task"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=METRICS,
)


def _codes(cls: type[RegistryError]) -> set[str]:
    return {cls.code}.union(*(_codes(sub) for sub in cls.__subclasses__()))


ERROR_CODES = frozenset(_codes(RegistryError) | {"method_not_allowed", "error"})
"""Every ``error`` code an answer can carry; anything else is counted as ``other``."""
CHECK_NAMES = frozenset({*CHECK_ORDER, "verifier"})
"""The verifier's checks, in its report (``verifier``: the verifier itself failed)."""
TUF_TASKS = frozenset({"publish", "refresh"})

# ----------------------------------------------------------------------------- recording


def verdict_recorded(report: VerificationReport, *, published_at: datetime) -> None:
    """Count a verdict the moment it is recorded (once per version)."""
    failing = next((c.name for c in report.checks if not c.passed and not c.skipped), "")
    check = failing if failing in CHECK_NAMES or not failing else "other"
    VERDICTS.labels(verdict=report.verdict, check=check).inc()
    if published_at.tzinfo is None:  # the database keeps UTC without a zone
        published_at = published_at.replace(tzinfo=UTC)
    VERIFICATION_LATENCY.observe(max(0.0, (datetime.now(UTC) - published_at).total_seconds()))


@contextmanager
def timed_tuf_sign(task: str) -> Iterator[None]:
    """Time one run of a TUF task (``publish`` or ``refresh``), failed runs included."""
    if task not in TUF_TASKS:
        raise ValueError(f"no TUF task {task!r}")
    started = time.perf_counter()
    try:
        yield
    finally:
        TUF_SIGN.labels(task=task).observe(time.perf_counter() - started)


_PUBLISH = ("POST", "/api/v1/plugins")
_DOWNLOAD_PARTS = frozenset({"component", "manifest", "bundle"})
_STATE_KEY = "clawft_metrics"
_LENGTH_KEY = "clawft_metrics_length"
_MAX_ERROR_BODY = 16 * 1024


_KIND_KEY = "clawft_download_kind"


def mark_download(scope: Scope, kind: str) -> None:
    """Name what a raw ASGI handler answers (a mount has no path template to tell it by)."""
    scope.setdefault("state", {})[_KIND_KEY] = kind


def _kind(scope: Scope) -> str | None:
    """``component``, ``manifest``, ``bundle``, ``tuf``, ``blob``: what a download is of."""
    marked = scope.get("state", {}).get(_KIND_KEY)
    if isinstance(marked, str):
        return marked
    template = str(scope.get("path_template", ""))
    if template.startswith("/tuf/"):
        return "tuf"
    if template.startswith("/blobs/"):
        return "blob"
    if template.startswith("/api/v1/plugins/") and template.endswith("/{part}"):
        part = str(scope.get("path_params", {}).get("part", ""))
        return part if part in _DOWNLOAD_PARTS else None
    return None


async def count_answers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: counts publish answers, downloads and their bytes, and 429s from
    what was actually sent."""
    if scope["type"] != ScopeType.HTTP:
        return
    state = scope.setdefault("state", {})
    if message["type"] == "http.response.start":
        status = int(message["status"])
        template = str(scope.get("path_template", ""))
        method = scope.get("method", "")
        if status == 429:
            RATE_LIMITED.labels(route=template or "unrouted").inc()
        kind = _kind(scope) if method in ("GET", "HEAD") else None
        publish = (method, template.rstrip("/")) == _PUBLISH
        if kind is not None:
            DOWNLOADS.labels(kind=kind, status=str(status)).inc()
        elif publish and status < 400:
            UPLOADS.labels(outcome="accepted", reason="").inc()
        sends_file = method == "GET" and status in (200, 206)  # not an error's body
        state[_STATE_KEY] = (kind if sends_file else None, publish and status >= 400)
        state[_LENGTH_KEY] = next(
            (
                value
                for name, value in message.get("headers", ())
                if name.lower() == b"content-length"
            ),
            b"",
        )
        return
    event = str(message["type"])
    if event == "http.response.pathsend":  # the server sends the file itself
        kind, _ = state.get(_STATE_KEY, (None, False))
        length = _content_length(state)
        if kind is not None and length:
            DOWNLOAD_BYTES.labels(kind=kind).inc(length)
        return
    if event != "http.response.body":
        return
    kind, refused_publish = state.get(_STATE_KEY, (None, False))
    body = message.get("body", b"")
    body = body if isinstance(body, bytes) else b""
    if kind is not None and body:
        DOWNLOAD_BYTES.labels(kind=kind).inc(len(body))
    if refused_publish:
        state[_STATE_KEY] = (kind, False)  # counted once, on the first body message
        UPLOADS.labels(outcome="refused", reason=_error_code(body)).inc()


def _content_length(state: dict[str, Any]) -> int:
    raw = state.get(_LENGTH_KEY, b"")
    return int(raw) if isinstance(raw, bytes) and raw.isdigit() else 0


def _error_code(body: bytes) -> str:
    """The ``error`` of one of the registry's error bodies, if it is a known code."""
    if len(body) > _MAX_ERROR_BODY:
        return "other"
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return "other"
    code = decoded.get("error") if isinstance(decoded, dict) else None
    return code if isinstance(code, str) and code in ERROR_CODES else "other"


# ----------------------------------------------------------------------------- scraping


class _QueueDepth(Collector):
    """Verification jobs without a verdict, from the outbox table (one indexed count):
    ``queued`` (not yet taken by the broker) and ``sent`` (with the broker or a worker)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "clawft_verification_queue_depth",
            "Verification jobs awaiting a verdict: queued (outbox) or sent (broker, worker).",
            labels=["state"],
        )
        try:
            with self.db.session() as session:
                rows = session.execute(
                    sa.select(VerificationJob.state, sa.func.count())
                    .where(VerificationJob.state.in_((JobState.QUEUED, JobState.SENT)))
                    .group_by(VerificationJob.state)
                )
                counts = {state: count for state, count in rows}
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            _log.warning("queue depth left out of /metrics: %s", exc)
            return []
        for state in (JobState.QUEUED, JobState.SENT):
            gauge.add_metric([str(state)], counts.get(state, 0))
        return [gauge]


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def exposition(db: Database | None = None, *, multiproc_dir: str | None = MULTIPROC_DIR) -> bytes:
    """The metrics in Prometheus text format: every process's (``multiproc_dir``) or this
    one's, and the queue depth when ``db`` is given."""
    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir is not None:
        MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(METRICS))
    if db is not None:
        registry.register(_QueueDepth(db))
    return generate_latest(registry)


WORKER_METRICS_CONNECTIONS = 16
"""Connections the worker's metrics server serves at once; more are closed on arrival."""
WORKER_METRICS_TIMEOUT_S = 10.0
"""How long that server waits for a client's next bytes before it drops the connection."""


class _QuietHandler(WSGIRequestHandler):
    timeout = WORKER_METRICS_TIMEOUT_S  # socketserver applies it to the connection

    def log_message(self, format: str, *args: Any) -> None:
        """Not a line per scrape in the worker's log."""


class _BoundedServer(ThreadingWSGIServer):
    """prometheus-client's thread-per-request server, with at most
    :data:`WORKER_METRICS_CONNECTIONS` threads: a client that opens connections and sends
    nothing cannot pile threads up in the worker's main process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.slots = threading.BoundedSemaphore(WORKER_METRICS_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve_worker_metrics(
    host: str, port: int, *, multiproc_dir: str | None = MULTIPROC_DIR
) -> WSGIServer:
    """Serve what every process writing to ``multiproc_dir`` counted (a worker's pool
    processes) in Prometheus text format on ``host:port``, from a daemon thread; returns the
    server. Raises ``ValueError`` without a multi-process directory (the pool processes'
    counts would be lost) and ``OSError`` when the address cannot be bound."""
    if multiproc_dir is None or not Path(multiproc_dir).is_dir():
        raise ValueError(
            "CLAWFT_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR set to an empty "
            "directory when the worker starts: its pool processes verify, and their counts "
            f"reach its /metrics through that directory (now: {multiproc_dir!r})"
        )
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("WorkerMetricsServer", (_BoundedServer,), {"address_family": family})
        server: WSGIServer = make_server(
            host, port, make_wsgi_app(registry), server_class, handler_class=_QuietHandler
        )
    except OSError as exc:
        raise OSError(
            f"cannot serve the worker's metrics on {host}:{port} ({exc.strerror or exc}): "
            "choose another CLAWFT_WORKER_METRICS_PORT or CLAWFT_WORKER_METRICS_HOST"
        ) from None
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server


@runtime_checkable
class _WithDatabase(Protocol):
    """What the route needs of the registry's services (this module is imported below them)."""

    @property
    def db(self) -> Database: ...


class MetricsController(Controller):
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/metrics", sync_to_thread=True, include_in_schema=False)
    def metrics(self, services: NamedDependency[_WithDatabase]) -> Response[bytes]:
        """Prometheus text format; expose it to the scraper only, not through the public proxy."""
        return Response(exposition(services.db), media_type=CONTENT_TYPE_PLAIN_0_0_4)
