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
from collections.abc import Iterator
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


class IsolationLimitExceeded(Exception):
    """The child was stopped by a limit (or died); ``str()`` says which."""


Reply = AnalyseResult | ChildFailure | Compiled | IsolationLimitExceeded
"""What reading the child's next message gives: a message, or the limit that ended it."""


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

    def start(self) -> None:
        """Start the warm child now, unless one is running: the first job then finds it
        ready instead of waiting for it to start."""
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = self._start()

    @contextlib.contextmanager
    def running(self, job: AnalyseJob) -> Iterator[Run]:
        """Send ``job`` to the warm child; the :class:`Run` reads its replies.

        One job at a time: the child is this run's until the block ends, and a run left
        unread (or interrupted: a task's soft time limit, Ctrl-C) costs the child its life, so
        that the next job never reads this one's replies.
        """
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = self._start()
            run = Run(self, self._child, time.monotonic() + self.limits.wall_seconds)
            try:
                run.send(job)
                yield run
                run.outcome()
            except BaseException:
                self.kill(run.child)
                raise
            if run.ends_child:
                # A child that failed a job may be in any state, and one whose plugin ran past
                # its timeout has ended itself: the next job gets a fresh child, which starts
                # now so that it is warm by then (or with that job, if it cannot start now).
                self._stop(run.child)
                with contextlib.suppress(OSError):
                    self._child = self._start()

    def analyse(self, job: AnalyseJob) -> AnalyseResult:
        """Run ``job`` in the child; raise :class:`IsolationLimitExceeded` if a limit hit."""
        with self.running(job) as run:
            outcome = run.outcome()
        if isinstance(outcome, IsolationLimitExceeded):
            raise outcome
        return outcome

    def limit_of(self, failure: ChildFailure) -> IsolationLimitExceeded:
        """What a failure the child reported means, as a limit the component ran into."""
        if failure.kind == "memory":
            return IsolationLimitExceeded(
                f"the component needed more than the verifier's memory limit of "
                f"{self.limits.memory_bytes // (1024 * 1024)} MB"
            )
        return IsolationLimitExceeded(f"the verifier's isolation child failed: {failure.error}")

    def death_of(self, child: subprocess.Popen[bytes]) -> IsolationLimitExceeded:
        """Why ``child`` ended (its exit status says which limit), once it has."""
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill(child)
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

    def kill(self, child: subprocess.Popen[bytes]) -> None:
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


class Run:
    """One job in the isolation child: its replies, read in order.

    The child says :class:`Compiled` once the component compiled and it goes on to run it (from
    there on it needs one core, so it is the parent's cue to do its own share of the work), and
    then sends the result. A limit the child ran into is an outcome, not an exception: what the
    parent does meanwhile is done either way.
    """

    def __init__(
        self, analyser: IsolatedAnalyser, child: subprocess.Popen[bytes], deadline: float
    ) -> None:
        self.analyser = analyser
        self.child = child
        self.deadline = deadline
        self._outcome: AnalyseResult | IsolationLimitExceeded | None = None
        self.ends_child = False
        """The child failed the job or ended itself: it is replaced after this run."""

    def send(self, job: AnalyseJob) -> None:
        assert_open(self.child)
        try:
            write_message(self.child.stdin, job)  # type: ignore[arg-type]
        except BrokenPipeError:
            self._outcome = self.analyser.death_of(self.child)

    def wait_until_compiled(self) -> None:
        """Return once the child compiled the component, or finished, or failed."""
        if self._outcome is None:
            reply = self._reply()
            if not isinstance(reply, Compiled):
                self._settle(reply)

    def outcome(self) -> AnalyseResult | IsolationLimitExceeded:
        """The job's result, or the limit that stopped the child."""
        while self._outcome is None:
            reply = self._reply()
            if isinstance(reply, Compiled):
                continue  # the cue came before: the result is next
            self._settle(reply)
        return self._outcome

    def _reply(self) -> Reply:
        try:
            return read_reply(self.child.stdout, self.deadline)  # type: ignore[arg-type]
        except EOFError:
            return self.analyser.death_of(self.child)
        except TimeoutError:
            self.analyser.kill(self.child)
            return IsolationLimitExceeded(
                f"the component ran past the verifier's wall-clock limit of "
                f"{self.analyser.limits.wall_seconds:g} s and was stopped"
            )

    def _settle(self, reply: Reply) -> None:
        if isinstance(reply, IsolationLimitExceeded):
            self._outcome = reply
        elif isinstance(reply, ChildFailure):
            self.ends_child = True
            self._outcome = self.analyser.limit_of(reply)
        elif isinstance(reply, AnalyseResult):
            self.ends_child = reply.stopped
            self._outcome = reply
        else:
            self._outcome = IsolationLimitExceeded("the isolation child reported compiling twice")
            self.ends_child = True


def read_reply(stream: IO[bytes], deadline: float) -> AnalyseResult | ChildFailure | Compiled:
    """The child's next message; :class:`TimeoutError` past ``deadline``, :class:`EOFError` if
    the pipe closed or the message is over the size limit."""
    (size,) = _LENGTH.unpack(_read(stream, _LENGTH.size, deadline))
    if size > MAX_MESSAGE_BYTES:
        raise EOFError("reply too large")
    reply: AnalyseResult | ChildFailure | Compiled = msgspec.msgpack.decode(
        _read(stream, size, deadline), type=AnalyseResult | ChildFailure | Compiled
    )
    return reply


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


def assert_open(child: subprocess.Popen[bytes]) -> None:
    if child.stdin is None or child.stdout is None:
        raise RuntimeError("the isolation child was started without its pipes")
