"""Request rate limits per publisher: token buckets, counted once for the whole registry.

With a Redis broker (production, and the embedded Valkey of ``serve``), the buckets live in
Redis and every HTTP worker process, on every machine, takes from the same one: an atomic
script updates a bucket with the Redis server's clock. Without one (an app built on an
in-memory queue, as some tests do) they live in the process. When Redis does not answer, the
process's own buckets count instead: a broker outage must not stop publishes, which wait in the
outbox until it is back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Protocol

from registry.errors import RateLimited

__all__ = ["Limiter", "RateLimiter", "RedisRateLimiter", "rate_limit", "shared_limiter"]

_log = logging.getLogger("clawft.registry.ratelimit")


class Limiter(Protocol):
    def acquire(self, key: str) -> float | None:
        """Take a token for ``key``: ``None`` when allowed, else seconds until the next one."""


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


_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisRateLimiter:
    """``per_minute`` requests per key, in bursts of up to ``per_minute``, counted in Redis
    (``clawft:rate:<name>:<key>``); the process's own buckets while Redis does not answer."""

    def __init__(self, url: str, name: str, per_minute: int, *, timeout_s: float = 0.5) -> None:
        import redis

        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script = self._client.register_script(_TAKE)
        self._prefix = f"clawft:rate:{name}:"
        self._rate = per_minute / 60.0
        self._burst = per_minute
        self._fallback = RateLimiter(per_minute)

    def acquire(self, key: str) -> float | None:
        import redis

        if self._rate <= 0:
            return 60.0
        try:
            wait = float(self._script(keys=[self._prefix + key], args=[self._rate, self._burst]))
        except (redis.RedisError, OSError, ValueError) as exc:
            _log.warning("rate limits counted in this process: Redis did not answer (%s)", exc)
            return self._fallback.acquire(key)
        return None if wait <= 0 else float(math.ceil(wait))


def shared_limiter(broker_url: str | None, name: str, per_minute: int) -> Limiter:
    """Buckets in the broker's Redis when it is one, else in this process."""
    if broker_url is not None and broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(broker_url, name, per_minute)
    return RateLimiter(per_minute)


def rate_limit(limiter: Limiter, key: str, what: str) -> None:
    """Take one of ``key``'s allowance, or refuse with 429 and when to retry."""
    wait = limiter.acquire(key)
    if wait is not None:
        raise RateLimited(
            f"too many {what}; retry in {wait:g} s", headers={"Retry-After": str(int(wait))}
        )
