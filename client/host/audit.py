"""The per-plugin audit log: one entry per host call, permitted or denied.

Bounded: past ``max_entries`` the oldest entries are dropped and counted, so a plugin that
floods the host cannot exhaust the host's memory through its own audit trail.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import msgspec

MAX_SUMMARY_CHARS = 256


class AuditEntry(msgspec.Struct, frozen=True):
    """One host call."""

    timestamp: float
    """Unix time the call started."""
    plugin: str
    function: str
    """Host function name, e.g. ``http-request``."""
    params: str
    """A short, truncated summary of the parameters (never file contents or bodies)."""
    permitted: bool
    """False when the sandbox refused the call."""
    error: str | None
    """Why the call was denied or failed."""
    duration_ms: float


def summarize(*parts: object) -> str:
    """A parameter summary, cut to a bounded length."""
    text = " ".join(str(part)[:MAX_SUMMARY_CHARS] for part in parts)
    if len(text) > MAX_SUMMARY_CHARS:
        return text[: MAX_SUMMARY_CHARS - 1] + "…"
    return text


class AuditLog:
    """Audit entries of one plugin, oldest first; safe to use from several threads."""

    def __init__(self, plugin: str, *, max_entries: int = 10_000) -> None:
        self.plugin = plugin
        self._entries: deque[AuditEntry] = deque(maxlen=max_entries)
        self._dropped = 0
        self._lock = threading.Lock()

    def record(
        self,
        function: str,
        params: str,
        *,
        permitted: bool,
        error: str | None = None,
        started: float,
        duration_s: float,
    ) -> AuditEntry:
        entry = AuditEntry(
            timestamp=started,
            plugin=self.plugin,
            function=function,
            params=params,
            permitted=permitted,
            error=error,
            duration_ms=round(duration_s * 1000.0, 3),
        )
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self._dropped += 1
            self._entries.append(entry)
        return entry

    @property
    def dropped(self) -> int:
        """Entries dropped because the log was full."""
        return self._dropped

    def entries(
        self, *, function: str | None = None, permitted: bool | None = None
    ) -> list[AuditEntry]:
        """The entries, optionally only those of one function or one outcome."""
        with self._lock:
            snapshot = list(self._entries)
        return [
            entry
            for entry in snapshot
            if (function is None or entry.function == function)
            and (permitted is None or entry.permitted == permitted)
        ]

    def denied(self) -> list[AuditEntry]:
        return self.entries(permitted=False)

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def to_jsonl(self) -> bytes:
        """The entries as JSON lines."""
        encoder = msgspec.json.Encoder()
        return b"".join(encoder.encode(entry) + b"\n" for entry in self.entries())

    def write_jsonl(self, path: Path) -> None:
        path.write_bytes(self.to_jsonl())


class AuditTimer:
    """Measures one host call: ``started`` (wall clock) and ``elapsed()`` (monotonic)."""

    __slots__ = ("_t0", "started")

    def __init__(self) -> None:
        self.started = time.time()
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0
