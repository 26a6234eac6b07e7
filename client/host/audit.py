"""The per-plugin audit log: one entry per host call, permitted or denied.

Bounded, without forgetting what matters: the most recent ``max_entries`` entries are kept in
a ring, and denied entries are kept apart from it as well (up to ``max_denied_entries``), so a
plugin that makes a few undeclared calls and then thousands of permitted ones cannot push the
undeclared ones out of the trail. Every call is counted, denied ones apart; :class:`AuditCounts`
says how many entries of each kind were not kept.
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


class AuditCounts(msgspec.Struct, frozen=True, kw_only=True):
    """How many host calls an audit log saw, and how many of its entries it let go."""

    calls: int = 0
    """Every host call recorded."""
    denied: int = 0
    """Calls the sandbox denied."""
    dropped: int = 0
    """Entries no longer kept (pushed out of the ring of recent entries, and not denied ones
    kept apart)."""
    denied_dropped: int = 0
    """Denied entries not kept: more denied calls than ``max_denied_entries``. A judgement that
    needs every denied call cannot be made from this log when it is not zero."""


class AuditLog:
    """Audit entries of one plugin, oldest first; safe to use from several threads."""

    def __init__(
        self, plugin: str, *, max_entries: int = 10_000, max_denied_entries: int = 1_000
    ) -> None:
        self.plugin = plugin
        self._recent: deque[tuple[int, AuditEntry]] = deque(maxlen=max_entries)
        self._denied: list[tuple[int, AuditEntry]] = []
        self._max_denied = max_denied_entries
        self._calls = 0
        self._denied_calls = 0
        self._denied_dropped = 0
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
            self._calls += 1
            numbered = (self._calls, entry)
            if not permitted:
                self._denied_calls += 1
                if len(self._denied) < self._max_denied:
                    self._denied.append(numbered)
                else:
                    self._denied_dropped += 1
            self._recent.append(numbered)
        return entry

    def counts(self) -> AuditCounts:
        with self._lock:
            kept = len(self._kept())
            return AuditCounts(
                calls=self._calls,
                denied=self._denied_calls,
                dropped=self._calls - kept,
                denied_dropped=self._denied_dropped,
            )

    @property
    def dropped(self) -> int:
        """Entries no longer kept."""
        return self.counts().dropped

    def _kept(self) -> list[tuple[int, AuditEntry]]:
        """Denied entries kept apart, and the recent ones, in call order (the lock is held)."""
        if not self._denied:
            return list(self._recent)
        oldest_recent = self._recent[0][0] if self._recent else self._calls + 1
        older_denied = [item for item in self._denied if item[0] < oldest_recent]
        return older_denied + list(self._recent)

    def entries(
        self, *, function: str | None = None, permitted: bool | None = None
    ) -> list[AuditEntry]:
        """The kept entries, oldest first, optionally only those of one function or outcome."""
        with self._lock:
            snapshot = self._kept()
        return [
            entry
            for _, entry in snapshot
            if (function is None or entry.function == function)
            and (permitted is None or entry.permitted == permitted)
        ]

    def denied(self) -> list[AuditEntry]:
        return self.entries(permitted=False)

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept())

    def to_jsonl(self) -> bytes:
        """The kept entries as JSON lines."""
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
