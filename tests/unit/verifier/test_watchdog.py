"""The isolation child's call watchdog, with a handler that records instead of exiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from client.host import HostSettings, PluginHost
from client.host.engine import EngineOptions, PluginEngine
from verifier.isolation.watchdog import CallWatchdog, WatchedCall


@pytest.fixture
def expired() -> list[WatchedCall]:
    return []


@pytest.fixture
def watchdog(expired: list[WatchedCall]) -> CallWatchdog:
    return CallWatchdog(expired.append, reply_lock=threading.Lock(), tick_s=0.005)


def wait_for(condition: Callable[[], object], seconds: float = 2.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not condition():
        time.sleep(0.005)


def test_a_call_past_its_timeout_is_handed_to_the_handler(
    watchdog: CallWatchdog, expired: list[WatchedCall]
) -> None:
    watchdog.arm("test/slow", "tool 'spin'", 0.05)
    wait_for(lambda: expired)
    watchdog.stop()
    call = expired[0]
    assert (call.plugin, call.what, call.timeout_s) == ("test/slow", "tool 'spin'", 0.05)


def test_a_call_that_ends_in_time_is_left_alone(
    watchdog: CallWatchdog, expired: list[WatchedCall]
) -> None:
    """Disarmed before its deadline, a call is not reported even once the deadline is past."""
    for _ in range(3):
        watchdog.arm("test/quick", "describe", 0.2)
        watchdog.disarm()
    time.sleep(0.4)
    watchdog.stop()
    assert expired == []


def test_the_handler_waits_for_a_reply_being_written(expired: list[WatchedCall]) -> None:
    """While the reply lock is held (the job's own reply is being written), nothing fires; a
    call disarmed meanwhile is not reported at all."""
    lock = threading.Lock()
    watchdog = CallWatchdog(expired.append, reply_lock=lock, tick_s=0.005)
    with lock:
        watchdog.arm("test/slow", "tool 'spin'", 0.01)
        time.sleep(0.1)
        assert expired == []
        watchdog.disarm()
    time.sleep(0.1)
    watchdog.stop()
    assert expired == []


def test_a_host_needs_epochs_or_a_watch() -> None:
    engine = PluginEngine(EngineOptions(epoch_interruption=False))
    assert engine.ticker is None
    with pytest.raises(ValueError, match="call_watch"):
        PluginHost(HostSettings(cache_dir=None), engine=engine)
    watch = CallWatchdog(lambda _call: None, reply_lock=threading.Lock())
    try:
        assert PluginHost(HostSettings(cache_dir=None), engine=engine, call_watch=watch)
    finally:
        watch.stop()
