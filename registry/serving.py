"""Serving the registry over HTTP: granian, with N worker processes, and a bound on every way a
client can hold a connection open.

``serve`` is a granian server (:func:`run_http_server`) whose worker processes each build the
app from the environment (:mod:`registry.asgi`): the parent completes the settings (the
embedded broker's URL, the development trust config) into the environment first, and keeps
the embedded services (broker, verifier worker, outbox sweeper, TUF refresh) to itself.
Workers are started with ``spawn``, never ``fork``: the parent runs threads by then.

* **Slow or absent headers** (slowloris), and **idle keep-alive connections**: a client has
  ``header_timeout_s`` to send a request's headers in full, from the moment a connection opens
  and again after each response; otherwise granian closes the connection.
* **Slow bodies**: the handlers read bodies within a time bound and answer 408
  (:func:`registry.requests.read_body`).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verifier.settings_source import SECRET_FILES

if TYPE_CHECKING:
    from granian.constants import Loops

__all__ = [
    "HttpSettings",
    "apply_environment",
    "check_address",
    "event_loop",
    "run_http_server",
    "worker_count",
]

MAX_HEADER_TIMEOUT_MS = 60_000
"""The longest header timeout granian takes."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How ``serve`` answers HTTP: its worker processes, and how long a client may take
    (``CLAWFT_WORKERS``, ``CLAWFT_HTTP_*``)."""

    workers: int | None = None
    """HTTP worker processes of ``serve`` (``CLAWFT_WORKERS``, 1 to 256); ``None``: automatic,
    1 for the embedded default and the CPU count in production."""
    header_timeout_s: float = 10.0
    """To send a request's headers, from the connection's start or the previous response
    (``CLAWFT_HTTP_HEADER_TIMEOUT_S``, at most 60 s): an idle keep-alive connection is closed
    after it too."""
    upload_body_timeout_s: float = 60.0
    """A publish body must arrive within this time, at least 24 KB/s for the largest upload
    (``CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S``); a slower client is answered 408."""
    json_body_timeout_s: float = 10.0
    """A JSON body (tokens, yank) must arrive within this time
    (``CLAWFT_HTTP_JSON_BODY_TIMEOUT_S``)."""


def worker_count(settings: HttpSettings, *, embedded: bool) -> int:
    """The HTTP worker processes to run: as configured, else 1 for the embedded default and
    the CPU count in production."""
    if settings.workers is not None:
        return settings.workers
    return 1 if embedded else max(1, os.cpu_count() or 1)


def event_loop() -> Loops:
    """uvloop where it is installed (the ``server`` extra brings it), else asyncio's own: named,
    never granian's "auto", which would take any other loop that happens to be installed. The
    download fast path spends most of its time in the loop: uvloop answers about 1.5 times as
    many downloads per second (``bench/registry_download.py``)."""
    from granian.constants import Loops

    try:
        import uvloop  # noqa: F401
    except ImportError:
        return Loops.asyncio
    return Loops.uvloop


def apply_environment(
    environment: Mapping[str, str], environ: MutableMapping[str, str] | None = None
) -> None:
    """Add ``environment`` to this process's environment (``environ``), for the granian
    workers to read. A secret given here outright replaces the file the environment may name
    for it (``CLAWFT_BROKER_URL`` and ``CLAWFT_BROKER_URL_FILE`` both set would be an error)."""
    target = os.environ if environ is None else environ
    target.update(environment)
    for name in environment:
        file_variable = SECRET_FILES.get(name)
        if file_variable is not None:
            target.pop(file_variable, None)


def check_address(host: str, port: int) -> None:
    """Raise ``OSError`` with one line naming ``host:port`` unless ``serve`` can listen there
    (granian's own error is a traceback and a Rust backtrace). Bound and let go at once, with
    ``SO_REUSEADDR`` as granian binds, so a closed connection's port still counts as free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise OSError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): stop what holds it, or "
            "give serve another --port or --host"
        ) from None


def run_http_server(
    settings: HttpSettings,
    *,
    host: str,
    port: int,
    workers: int,
    environment: Mapping[str, str],
) -> None:
    """Serve :func:`registry.asgi.create_worker_app` on ``host:port`` with ``workers`` granian
    processes until a signal stops the server. ``environment`` is added to this process's
    environment first: the workers read their settings from it."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    apply_environment(environment)
    multiprocessing.set_start_method("spawn", force=True)
    header_ms = min(MAX_HEADER_TIMEOUT_MS, max(1, round(settings.header_timeout_s * 1000)))
    Granian(
        "registry.asgi:create_worker_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        # HTTP/1.1 only: in its "auto" mode granian waits, unbounded, for a connection's first
        # bytes to tell HTTP/2 from HTTP/1 (a client that sends nothing would hold it for ever).
        http=HTTPModes.http1,
        workers=workers,
        factory=True,
        loop=event_loop(),
        http1_settings=HTTP1Settings(header_read_timeout=header_ms, keep_alive=True),
        respawn_failed_workers=True,
        workers_kill_timeout=30,
        log_enabled=False,
    ).serve()
