"""The embedded broker at start: a delivery a killed worker held is queued again at once,
not after the visibility timeout (the killed `serve`'s verification stayed `verifying` for
the broker's five minutes before)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
from pathlib import Path

from kombu import Connection

from registry.embedded_broker import requeue_abandoned, start_broker

_TAKE_AND_HOLD = """
import sys, time
from kombu import Connection
connection = Connection(sys.argv[1], transport_options={"visibility_timeout": 300})
held = connection.SimpleQueue("verify").get(timeout=10)  # taken, never acknowledged
print(held.payload["job"], flush=True)
time.sleep(600)
"""


def test_a_delivery_held_by_a_killed_worker_is_queued_again_at_start(tmp_path: Path) -> None:
    url, stop = start_broker(tmp_path / "broker")
    try:
        with Connection(url) as connection:
            connection.SimpleQueue("verify").put({"job": "j-1"})
        worker = subprocess.Popen(
            [sys.executable, "-c", _TAKE_AND_HOLD, url], stdout=subprocess.PIPE, text=True
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "j-1"
        worker.send_signal(signal.SIGKILL)  # no clean close: nothing gives the message back
        worker.wait()
        with Connection(url, transport_options={"visibility_timeout": 300}) as connection:
            waiting = connection.SimpleQueue("verify")
            try:
                waiting.get(timeout=1)
                raise AssertionError("the held delivery came back by itself")
            except queue.Empty:
                pass
            assert requeue_abandoned(url) == 1
            again = waiting.get(timeout=5)
            assert again.payload == {"job": "j-1"}
            again.ack()
        assert requeue_abandoned(url) == 0  # nothing left to give back
    finally:
        stop()
