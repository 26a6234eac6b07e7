"""Compiling and running untrusted components in a child process under OS limits.

wasmtime does not treat a component that is slow to compile as a vulnerability, so the
verifier never compiles uploaded bytes in its own process. :class:`IsolatedAnalyser` keeps one
warm child (``python -m verifier.isolation.child``) and sends it jobs; the child runs each under
a CPU-time limit and a data-segment limit, and the parent adds a wall-clock bound. A child that
blows a limit is killed and replaced, and the job's result says which limit it hit; one whose
plugin ran past its own timeout reports it and ends itself, and is replaced too. The parent owns
each child's scratch directory (the plugins' data directory) and removes it with the child.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import msgspec

from verifier.isolation.protocol import (
    _LENGTH,
    MAX_MESSAGE_BYTES,
    AnalyseJob,
    AnalyseResult,
    ChildFailure,
    Compiled,
    write_message,
)
from verifier.isolation.scratch import ScratchDirectory, scratch_root, sweep_abandoned
from verifier.settings import IsolationLimits

__all__ = ["AnalyseJob", "AnalyseResult", "IsolatedAnalyser", "IsolationLimitExceeded"]


class IsolationLimitExceeded(Exception):
    """The child was stopped by a limit (or died); ``str()`` says which."""


class IsolatedAnalyser:
    """One warm isolation child, used by one thread at a time."""

    def __init__(self, limits: IsolationLimits) -> None:
        self.limits = limits
        self._child: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._scratch: ScratchDirectory | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        self._forget()  # a child that exited by itself leaves its scratch directory
        if self._stderr is not None:
            self._stderr.close()
        # Kept open for the child's lifetime; its tail explains an unexpected exit.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        # The plugins' data directory, reused job after job (the child empties it); this
        # process removes it with the child, even one that was killed, and removes those of
        # owners that died before they could.
        root = scratch_root(self.limits)
        sweep_abandoned(root)
        self._scratch = scratch = ScratchDirectory(root)
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "verifier.isolation.child",
                "--memory-bytes",
                str(self.limits.memory_bytes),
                "--scratch-dir",
                str(scratch.path),
                "--scratch-bytes",
                str(self.limits.scratch_bytes),
                "--scratch-entries",
                str(self.limits.scratch_entries),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
        )

    @property
    def scratch_dir(self) -> Path | None:
        """The running child's scratch directory (the plugins' data directory), if any."""
        return self._scratch.path if self._scratch is not None else None

    def analyse(
        self, job: AnalyseJob, *, meanwhile: Callable[[], object] | None = None
    ) -> AnalyseResult:
        """Run ``job`` in the child; raise :class:`IsolationLimitExceeded` if a limit hit.

        ``meanwhile`` runs in this process while the child works: once the child says the
        component compiled (compiling keeps both cores busy; running it, one), or after the
        reply when the job ends at compiling; not at all if the child fails first. The verifier
        does its cheap checks there.
        """
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = self._start()
            child = self._child
            assert child.stdin is not None and child.stdout is not None
            deadline = time.monotonic() + self.limits.wall_seconds
            try:
                write_message(child.stdin, job)
                reply = self._read_reply(child.stdout, deadline)
                if meanwhile is not None:
                    try:
                        meanwhile()
                    except BaseException:
                        self._kill(child)  # its reply would be out of step with the next job
                        raise
                if isinstance(reply, Compiled):
                    reply = self._read_reply(child.stdout, deadline)
                if isinstance(reply, Compiled):
                    raise EOFError("the child reported compiling twice")
            except (BrokenPipeError, EOFError):
                raise self._death(child) from None
            except TimeoutError:
                self._kill(child)
                raise IsolationLimitExceeded(
                    f"the component ran past the verifier's wall-clock limit of "
                    f"{self.limits.wall_seconds:g} s and was stopped"
                ) from None
            except BaseException:
                # Interrupted mid-job (a task's soft time limit, Ctrl-C): the child's reply
                # would be read by the next job, so the child goes.
                self._kill(child)
                raise
            if isinstance(reply, ChildFailure) or reply.stopped:
                # A child that failed a job may be in any state, and one whose plugin ran past
                # its timeout has ended itself: the next job gets a fresh child, which starts
                # now so that it is warm by then (or with that job, if it cannot start now).
                self._stop(child)
                with contextlib.suppress(OSError):
                    self._child = self._start()
        if isinstance(reply, ChildFailure):
            if "memory" in reply.error:
                raise IsolationLimitExceeded(
                    f"the component needed more than the verifier's memory limit of "
                    f"{self.limits.memory_bytes // (1024 * 1024)} MB"
                )
            raise IsolationLimitExceeded(f"the verifier's isolation child failed: {reply.error}")
        return reply

    def _read_reply(
        self, stream: IO[bytes], deadline: float
    ) -> AnalyseResult | ChildFailure | Compiled:
        header = self._read(stream, _LENGTH.size, deadline)
        (size,) = _LENGTH.unpack(header)
        if size > MAX_MESSAGE_BYTES:
            raise EOFError("reply too large")
        payload = self._read(stream, size, deadline)
        result: AnalyseResult | ChildFailure | Compiled = msgspec.msgpack.decode(
            payload, type=AnalyseResult | ChildFailure | Compiled
        )
        return result

    @staticmethod
    def _read(stream: IO[bytes], size: int, deadline: float) -> bytes:
        fd = stream.fileno()
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _death(self, child: subprocess.Popen[bytes]) -> IsolationLimitExceeded:
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill(child)
            code = child.returncode
        self._forget()
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return IsolationLimitExceeded(
                f"the component used more than the verifier's CPU limit of "
                f"{self.limits.cpu_seconds} s (compiling or running it) and was stopped"
            )
        if code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS):
            return IsolationLimitExceeded(
                "the verifier's isolation child died while compiling or running the component "
                f"(signal {-code}), most likely at its memory limit of "
                f"{self.limits.memory_bytes // (1024 * 1024)} MB"
            )
        return IsolationLimitExceeded(
            f"the verifier's isolation child exited unexpectedly (status {code}): "
            f"{self._stderr_tail()}"
        )

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 400))
        return self._stderr.read().decode("utf-8", errors="replace").strip()

    def _kill(self, child: subprocess.Popen[bytes]) -> None:
        child.kill()
        child.wait()
        self._forget()

    def _stop(self, child: subprocess.Popen[bytes]) -> None:
        """Let the child finish on its closed stdin (killing it if it does not), and forget it."""
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        self._forget()

    def _forget(self) -> None:
        self._child = None
        if self._scratch is not None:
            self._scratch.remove()
            self._scratch = None

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._stop(self._child)
