"""Request rate limits per client: token buckets keyed by API token or client address."""

from __future__ import annotations

import math
import threading
import time

from registry.errors import RateLimited


class RateLimiter:
    """``per_minute`` requests per key, in bursts of up to ``per_minute``."""

    def __init__(self, per_minute: int, *, max_keys: int = 100_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """Take a token for ``key``: ``None`` when allowed, else seconds until the next one."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return None
            self._store(key, tokens, now)
            return math.ceil((1.0 - tokens) / self._rate) if self._rate > 0 else 60.0

    def _store(self, key: str, tokens: float, now: float) -> None:
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory: forget everyone rather than grow
        self._buckets[key] = (tokens, now)


def rate_limit(limiter: RateLimiter, key: str, what: str) -> None:
    """Take one of ``key``'s allowance, or refuse with 429 and when to retry."""
    wait = limiter.acquire(key)
    if wait is not None:
        raise RateLimited(
            f"too many {what}; retry in {wait:g} s", headers={"Retry-After": str(int(wait))}
        )
