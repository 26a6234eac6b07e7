"""The five host functions of ``clawft:plugin/host``, bound to one plugin's sandbox.

Each function runs the call through the :class:`PluginSandbox`, records an audit entry, and
turns the outcome into the WIT result. No Python exception escapes into the guest: a failure
becomes the function's error value (or, for functions without one, ``none``/nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from wasmtime.component import LinkerInstance, Variant

from client.host.audit import AuditLog, AuditTimer, summarize
from client.host.sandbox import HostCallFailed, PluginSandbox, PolicyDenied

_log = logging.getLogger("clawft.host")


def utf8_size(text: str, bound: int) -> str:
    """``"N bytes"``: the UTF-8 size of ``text``, encoding it only when that is cheap."""
    if text.isascii():  # O(1) in CPython
        return f"{len(text):,} bytes"
    if len(text) > bound:
        return f"over {bound:,} bytes"
    return f"{len(text.encode('utf-8', errors='replace')):,} bytes"


class HostFunctions:
    """Host functions of one plugin; ``define`` adds them to a linker instance."""

    def __init__(self, sandbox: PluginSandbox, audit: AuditLog) -> None:
        self.sandbox = sandbox
        self.audit = audit
        self._drops = threading.local()

    def define(self, instance: LinkerInstance) -> None:
        instance.add_func("http-request", self.http_request)
        instance.add_func("read-file", self.read_file)
        instance.add_func("write-file", self.write_file)
        instance.add_func("get-env", self.get_env)
        instance.add_func("log", self.log)

    def _run(self, function: str, params: str, action: Callable[[], Any]) -> tuple[bool, Any]:
        """Run ``action``; audit it; return ``(True, value)`` or ``(False, error message)``.

        Past the call's deadline nothing runs: :class:`CallOutOfTime` ends the call.
        """
        self.sandbox.check_time()
        timer = AuditTimer()
        try:
            value = action()
        except PolicyDenied as exc:
            self._record(function, params, timer, permitted=False, error=str(exc))
            return False, f"denied: {exc}"
        except HostCallFailed as exc:
            self._record(function, params, timer, permitted=True, error=str(exc))
            return False, str(exc)
        except Exception as exc:  # a bug in the host must not reach the guest as a trap
            _log.exception("host function %s failed", function)
            self._record(function, params, timer, permitted=True, error=f"host error: {exc}")
            return False, "internal host error"
        self._record(function, params, timer, permitted=True, error=None)
        return True, value

    def _record(
        self, function: str, params: str, timer: AuditTimer, *, permitted: bool, error: str | None
    ) -> None:
        self.audit.record(
            function,
            params,
            permitted=permitted,
            error=error,
            started=timer.started,
            duration_s=timer.elapsed(),
        )

    # -- the world's functions (the first argument is always the store) ------------------
    def http_request(
        self,
        _store: object,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: str | None,
    ) -> Variant:
        params = summarize(method[:16], url)

        ok, value = self._run(
            "http-request", params, lambda: self.sandbox.http_request(method, url, headers, body)
        )
        return Variant("ok" if ok else "err", value)

    def read_file(self, _store: object, path: str) -> Variant:
        ok, value = self._run("read-file", summarize(path), lambda: self.sandbox.read_file(path))
        return Variant("ok" if ok else "err", value)

    def write_file(self, _store: object, path: str, content: str) -> str | None:
        params = summarize(path, f"({utf8_size(content, self.sandbox.settings.max_write_bytes)})")
        ok, value = self._run("write-file", params, lambda: self.sandbox.write_file(path, content))
        return None if ok else str(value)

    def get_env(self, _store: object, name: str) -> str | None:
        ok, value = self._run("get-env", summarize(name), lambda: self.sandbox.get_env(name))
        return value if ok else None

    def log(self, _store: object, level: int, message: str) -> None:
        # The hot path of chatty plugins: no helper objects, one clock read on each side.
        self.sandbox.check_time()
        started, t0 = time.time(), time.perf_counter()
        if self.sandbox.log(level, message):
            self._drops.streak = 0
            self.audit.record(
                "log",
                f"level={level} ({len(message)} chars)",
                permitted=True,
                started=started,
                duration_s=time.perf_counter() - t0,
            )
            return
        # Over the rate limit: record the first drop of a streak, count the rest.
        streak = getattr(self._drops, "streak", 0)
        self._drops.streak = streak + 1
        if streak == 0:
            self.audit.record(
                "log",
                f"level={level} ({len(message)} chars)",
                permitted=False,
                error="log rate limit reached; further messages are dropped and counted",
                started=started,
                duration_s=time.perf_counter() - t0,
            )

    def dropped_logs(self) -> int:
        """Log messages dropped by the rate limit so far."""
        return self.sandbox.log_rate.refused
