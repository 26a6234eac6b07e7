"""Per-plugin rate counters (token buckets)."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """``burst`` calls at once, refilled continuously at ``per_second``."""

    def __init__(self, per_second: float, burst: int) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.refused = 0
        """Calls refused so far."""

    def try_acquire(self) -> bool:
        """Take one token if there is one; count a refusal otherwise."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            self.refused += 1
            return False
