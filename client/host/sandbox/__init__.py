"""The ``PluginSandbox``: every host call of one plugin passes through it.

It owns the plugin's permissions (network allowlist, file prefixes, environment allowlist),
its rate counters, and the deadline of the call in progress. Decisions come back as a value,
:class:`PolicyDenied` (the sandbox refused) or :class:`HostCallFailed` (permitted, but failed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from client.host.sandbox.decisions import HostCallFailed, PolicyDenied
from client.host.sandbox.env import EnvPolicy
from client.host.sandbox.files import PluginFiles
from client.host.sandbox.hosts import HostAllowlist
from client.host.sandbox.http import SandboxedHttp
from client.host.sandbox.ratelimit import TokenBucket
from client.host.settings import HostSettings
from client.manifest import Permissions

__all__ = ["HostCallFailed", "LogSink", "PluginSandbox", "PolicyDenied"]

LogSink = Callable[[str, int, str], None]
"""Receives ``(plugin name, level, message)`` for every log line a plugin is allowed to emit."""

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")


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
        self.http = SandboxedHttp(HostAllowlist(permissions.network), settings.http)
        self.files = PluginFiles(
            data_dir,
            permissions.filesystem,
            max_read_bytes=settings.max_read_bytes,
            max_write_bytes=settings.max_write_bytes,
            write_budget=settings.write_budget_bytes,
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

    def end_call(self) -> None:
        self._call.deadline = None

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
        return self.env.get(name)

    def log(self, level: int, message: str) -> bool:
        """Emit a log line (cut to the size limit); False when the rate limit dropped it."""
        if not self.log_rate.try_acquire():
            return False
        limit = self.settings.max_log_bytes
        if len(message) * 4 > limit:  # a UTF-8 character is at most 4 bytes
            encoded = message.encode("utf-8")
            if len(encoded) > limit:
                message = encoded[:limit].decode("utf-8", errors="ignore") + " …[truncated]"
        self._log_sink(self.plugin, min(level, len(LOG_LEVELS) - 1), message)
        return True
