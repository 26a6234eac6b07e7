"""The embedded broker belongs to one `serve`: a second `serve` on the same data directory is
refused, a `serve` killed with SIGKILL takes its broker with it, and a broker left behind
anyway is found by the next `serve` and stopped, never run beside (two Valkeys writing one
append-only file would corrupt the queue)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.test_serve import CLAWFT_REGISTRY, free_port


def brokers_of(data: Path) -> list[int]:
    """Pids of the Valkey servers running on ``data``'s broker directory."""
    directory = (data / "broker").resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd, exe = (entry / "cwd").readlink(), (entry / "exe").readlink()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if cwd == directory and "valkey" in exe.name and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(0.1)


@contextmanager
def serve(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    port = free_port()
    log = (data.parent / f"serve-{port}.log").open("ab")
    process = subprocess.Popen(
        [str(CLAWFT_REGISTRY), "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError((data.parent / f"serve-{port}.log").read_text())
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, "serve did not become ready")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        log.close()
        for pid in brokers_of(data):  # never leave one behind, whatever the test did
            os.kill(pid, signal.SIGKILL)


def test_one_serve_per_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "registry-data"
    with serve(data) as first:
        second = subprocess.run(
            [str(CLAWFT_REGISTRY), "serve", "--data-dir", str(data), "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"another clawft-registry serve (pid {first.pid}) is running" in second.stderr
        assert len(brokers_of(data)) == 1  # the refused one started none
        assert first.poll() is None


def test_a_killed_serve_takes_its_broker_with_it(tmp_path: Path) -> None:
    data = tmp_path / "registry-data"
    with serve(data) as process:
        (broker,) = brokers_of(data)
        process.kill()  # SIGKILL: no handler, no atexit
        process.wait()
        wait_for(lambda: not brokers_of(data), 10, f"the broker {broker} did not end")
    with serve(data):  # and the data directory is free again
        assert len(brokers_of(data)) == 1


def test_a_broker_left_behind_is_stopped_by_the_next_serve(tmp_path: Path) -> None:
    data = tmp_path / "registry-data"
    with serve(data) as process:
        (orphan,) = brokers_of(data)
        # Kill serve and its watchdog at once, as a power cut of everything but the broker.
        watchdogs = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit()
            and _parent_of(entry) == process.pid
            and int(entry.name) != orphan
        ]
        for pid in [*watchdogs, process.pid]:
            os.kill(pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.5)
        assert brokers_of(data) == [orphan]  # left behind
    # (the context's cleanup found it still running and killed it: start again with one)
    with serve(data) as process:
        (orphan,) = brokers_of(data)
        for pid in [p for p in _children(process.pid) if p != orphan]:
            os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait()
        time.sleep(0.5)
        assert brokers_of(data) == [orphan]
        with serve(data):
            brokers = brokers_of(data)
            assert len(brokers) == 1 and orphan not in brokers


def _parent_of(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().split(")")[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent_of(entry) == pid
    ]
