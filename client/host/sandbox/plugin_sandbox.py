"""The ``PluginSandbox``: every host call of one plugin passes through it.

It owns the plugin's permissions (network allowlist, file prefixes, environment allowlist),
its rate counters, and the deadline of the call in progress. Decisions come back as a value,
:class:`PolicyDenied` (the sandbox refused) or :class:`HostCallFailed` (permitted, but failed).

Fuel and epochs stop only wasm code, so the time a plugin spends in the host is bounded here:
a host call made after the call's deadline runs nothing (:meth:`PluginSandbox.check_time` ends
the call as timed out), and each host function bounds its own work, by the time left where it
waits (``http-request``) and by size where it computes (inputs are cut or refused before they
are encoded, decoded or matched).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import wasmtime

from client.host.sandbox.decisions import PolicyDenied
from client.host.sandbox.env import EnvPolicy
from client.host.sandbox.files import PluginFiles
from client.host.sandbox.hosts import HostAllowlist
from client.host.sandbox.http import SandboxedHttp
from client.host.sandbox.ratelimit import TokenBucket
from client.host.settings import HostSettings
from client.manifest import Permissions

LogSink = Callable[[str, int, str], None]
"""Receives ``(plugin name, level, message)`` for every log line a plugin is allowed to emit."""

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
_MAX_ENV_NAME_CHARS = 256


class CallOutOfTime(wasmtime.WasmtimeError):
    """Raised by a host function called past its call's deadline; it ends the guest's call.

    A ``WasmtimeError``, which wasmtime passes through the guest as the call's error. The
    sandbox remembers raising it, so the host reports a timeout without reading error text.
    """


class PluginSandbox:
    """Permissions, rate counters and per-call state of one loaded plugin."""

    def __init__(
        self,
        plugin: str,
        permissions: Permissions,
        settings: HostSettings,
        *,
        data_dir: Path | None,
        environment: Mapping[str, str],
        log_sink: LogSink,
    ) -> None:
        self.plugin = plugin
        self.settings = settings
        self.http = SandboxedHttp(HostAllowlist(permissions.network_grants()), settings.http)
        self.files = PluginFiles(
            data_dir,
            permissions.filesystem,
            max_read_bytes=settings.max_read_bytes,
            max_write_bytes=settings.max_write_bytes,
            write_budget=settings.write_budget_bytes,
            quota=settings.data_quota,
            durable=settings.durable_writes,
        )
        self.env = EnvPolicy(permissions.env, environment)
        self.http_rate = TokenBucket(settings.http_rate.per_second, settings.http_rate.burst)
        self.log_rate = TokenBucket(settings.log_rate.per_second, settings.log_rate.burst)
        self._log_sink = log_sink
        self._call = threading.local()

    # -- the call in progress ------------------------------------------------------------
    def begin_call(self, deadline: float) -> None:
        """Set the ``time.monotonic()`` deadline of the call starting on this thread."""
        self._call.deadline = deadline
        self._call.overran = False

    def end_call(self) -> bool:
        """The call on this thread has ended; True when a host call found it out of time."""
        overran: bool = getattr(self._call, "overran", False)
        self._call.deadline = None
        self._call.overran = False
        return overran

    def check_time(self) -> None:
        """End the call in progress (raise :class:`CallOutOfTime`) if it is past its deadline."""
        deadline: float | None = getattr(self._call, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            self._call.overran = True
            raise CallOutOfTime("the call ran past its timeout in a host call")

    def deadline(self) -> float:
        """Deadline of the call in progress (host functions bound their own time by it)."""
        value: float | None = getattr(self._call, "deadline", None)
        return time.monotonic() + 1.0 if value is None else value

    # -- host functions ------------------------------------------------------------------
    def http_request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: str | None
    ) -> str:
        if not self.http_rate.try_acquire():
            raise PolicyDenied("http-request rate limit reached; slow down")
        return self.http.request(method, url, headers, body, deadline=self.deadline())

    def read_file(self, path: str) -> str:
        return self.files.read(path)

    def write_file(self, path: str, content: str) -> None:
        self.files.write(path, content)

    def get_env(self, name: str) -> str | None:
        if len(name) > _MAX_ENV_NAME_CHARS:
            raise PolicyDenied(
                f"environment variable names are at most {_MAX_ENV_NAME_CHARS} characters"
            )
        return self.env.get(name)

    def log(self, level: int, message: str) -> bool:
        """Emit a log line (cut to the size limit); False when the rate limit dropped it."""
        if not self.log_rate.try_acquire():
            return False
        message = cut_utf8(message, self.settings.max_log_bytes)
        self._log_sink(self.plugin, min(level, len(LOG_LEVELS) - 1), message)
        return True


def cut_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (marked when cut), encoding no more than
    its first ``limit + 1`` characters however long it is."""
    if len(text) * 4 <= limit:  # a UTF-8 character is at most 4 bytes
        return text
    head = text[: limit + 1]
    encoded = head.encode("utf-8", errors="replace")
    if len(encoded) <= limit and len(head) == len(text):
        return text
    return encoded[:limit].decode("utf-8", errors="ignore") + " …[truncated]"
