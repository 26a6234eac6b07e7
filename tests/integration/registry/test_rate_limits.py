"""Rate limits counted in Redis (registry.ratelimit.RedisRateLimiter), against a real Valkey:
shared by every process that uses the same broker, and, when Redis does not answer (refused,
silent, or speaking something else), counted in the process at once: a broker outage never
stops nor stalls a publish."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from registry.ratelimit import RedisRateLimiter, shared_limiter


def limiter(url: str, per_minute: int) -> RedisRateLimiter:
    """A limiter with buckets of its own in ``url``'s Redis (a fresh name each test)."""
    return RedisRateLimiter(url, f"test-{uuid.uuid4().hex}", per_minute)


def test_processes_on_one_broker_share_each_bucket(redis_url: str) -> None:
    name = f"test-{uuid.uuid4().hex}"
    # Two limiters stand for two HTTP worker processes (each has its own connection).
    first, second = (RedisRateLimiter(f"{redis_url}/0", name, 4) for _ in range(2))
    taken = [first.acquire("alice"), second.acquire("alice"), first.acquire("alice")]
    taken.append(second.acquire("alice"))
    assert taken == [None, None, None, None]
    wait = first.acquire("alice")
    assert wait is not None and 1 <= wait <= 15  # 4 per minute: one token every 15 s
    assert second.acquire("alice") is not None
    assert first.acquire("bob") is None, "buckets are per publisher"


def test_hostile_keys_are_buckets_like_any_other(redis_url: str) -> None:
    limits = limiter(f"{redis_url}/0", 1)
    for key in ("a b", "x\r\nFLUSHALL\r\n", "\u202eevil", "*", "k" * 10_000, "\x00", "{}[]"):
        assert limits.acquire(key) is None, key
        assert limits.acquire(key) is not None, key


def test_no_allowance_refuses_without_asking_redis() -> None:
    assert limiter("redis://127.0.0.1:1/0", 0).acquire("alice") == 60.0


@contextmanager
def server(answer: bytes | None) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts and then sends ``answer`` to every command, or
    never answers at all (``None``); its ``redis://`` URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            if answer is not None:
                connection.settimeout(0.5)
                try:
                    while connection.recv(65536):
                        connection.sendall(answer)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


@pytest.mark.parametrize(
    "redis",
    ["refused", "silent", "garbage", "error"],
)
def test_a_redis_that_does_not_answer_falls_back_to_this_process(
    redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    answers = {"silent": None, "garbage": b"\x00\xff not RESP\r\n", "error": b"-ERR no\r\n"}
    with (
        server(answers[redis]) if redis != "refused" else _closed() as url,
        caplog.at_level("WARNING", logger="clawft.registry.ratelimit"),
    ):
        limits = limiter(url, 2)
        started = time.monotonic()
        taken = [limits.acquire("alice") for _ in range(3)]
        elapsed = time.monotonic() - started
    assert taken[:2] == [None, None]
    assert taken[2] is not None and 1 <= taken[2] <= 30
    # Each call waits at most the socket timeout (0.5 s) to find Redis silent.
    assert elapsed < 3 * 0.5 + 1.5, elapsed
    assert "rate limits counted in this process" in caplog.text


@contextmanager
def _closed() -> Iterator[str]:
    yield closed_port()


def test_shared_limiter_uses_redis_only_for_a_redis_broker(redis_url: str) -> None:
    assert isinstance(shared_limiter(f"{redis_url}/0", "x", 10), RedisRateLimiter)
    assert not isinstance(shared_limiter(None, "x", 10), RedisRateLimiter)
    assert not isinstance(shared_limiter("memory://", "x", 10), RedisRateLimiter)
    assert not isinstance(shared_limiter("amqp://127.0.0.1", "x", 10), RedisRateLimiter)
