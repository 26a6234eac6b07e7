"""The isolation child's call watchdog: plugin timeouts without epoch interruption.

The child's engine is built without epoch instrumentation, which costs about a seventh of every
compile, so nothing inside wasm stops a call at its timeout. This watchdog does instead: a
daemon thread looks at the running call every ``tick_s`` (as often as the edge's epoch ticker
ticks) and, once a call has outlived its timeout, calls ``on_expiry`` while holding
``reply_lock``. The child's handler reports the timeout, worded as the edge words its epoch
trap, and ends the process: a thread stuck in wasm cannot be abandoned any other way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchedCall:
    plugin: str
    what: str
    timeout_s: float
    deadline: float
    """On the ``time.monotonic()`` clock."""


class CallWatchdog:
    """A :class:`~client.host.timeouts.CallWatch` for a process that may end itself."""

    def __init__(
        self,
        on_expiry: Callable[[WatchedCall], None],
        *,
        reply_lock: threading.Lock,
        tick_s: float = 0.01,
    ) -> None:
        self._on_expiry = on_expiry
        self._reply_lock = reply_lock
        self._tick_s = tick_s
        self._armed: WatchedCall | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clawft-call-watchdog", daemon=True)
        self._thread.start()

    def arm(self, plugin: str, what: str, timeout_s: float) -> None:
        self._armed = WatchedCall(plugin, what, timeout_s, time.monotonic() + timeout_s)

    def disarm(self) -> None:
        self._armed = None

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            call = self._armed
            if call is None or time.monotonic() < call.deadline:
                continue
            with self._reply_lock:
                # The call may have ended while this thread waited for the lock.
                if self._armed is call:
                    self._on_expiry(call)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
