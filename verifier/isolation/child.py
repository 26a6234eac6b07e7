"""The isolation child: compiles and runs untrusted components under OS resource limits.

Run by :class:`verifier.isolation.IsolatedAnalyser` as ``python -m verifier.isolation.child``.
It serves jobs on stdin/stdout until stdin closes. Before each job it sets its CPU limit
(RLIMIT_CPU) to what it has used so far plus the job's budget, so a component that is slow to
compile or run is killed by the kernel (SIGXCPU); its data segment is capped once at start
(RLIMIT_DATA). The parent turns a killed child into a rejection with the reason. A plugin call
that outlives its own timeout is reported by the child's watchdog, which then ends the child
(see :mod:`verifier.isolation.watchdog`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Literal

import msgspec

from client.host import HostError, HostSettings, HttpPolicy, PluginHost, PluginLoadError
from client.host.engine import EngineOptions, PluginEngine
from client.host.errors import InvalidInput, PluginError
from client.host.imports import judge_shape
from client.host.plugin import CompiledComponent, Plugin
from client.host.settings import DataQuota, RateLimit, SizeBudget
from client.host.timeouts import timeout_message
from client.host.tools import parse_describe
from client.manifest import ManifestInvalid, PluginManifest, parse_manifest
from verifier.isolation.protocol import (
    AnalyseJob,
    AnalyseResult,
    ChildFailure,
    Compiled,
    VectorOutcome,
    read_message,
    write_message,
)
from verifier.isolation.watchdog import CallWatchdog, WatchedCall

# The parent checks the size budget; the child must not refuse what the parent let through.
UNBOUNDED_BUDGET = SizeBudget(
    component_bytes=1 << 40, component_gzip_bytes=1 << 40, plugin_dir_bytes=1 << 40
)


# Verification compiles every upload once and runs it briefly. Winch, wasmtime's baseline
# compiler, compiles in about half the CPU of Cranelift (with its optimiser off), on one core:
# a worker's verification takes one core, so workers (and Celery's concurrency) add up, instead
# of each compile spreading over every core and the verifications queueing behind one another.
# Nothing here unwinds natively through wasm frames, and the call watchdog stands in for epoch
# interruption. Fuel, memory and table limits, the timeouts and the host functions, the
# sandbox itself, are the edge's. Fuel is metered a little differently: Cranelift charges bulk
# memory and table operations (memory.fill, table.grow, ...) per byte or element, Winch
# (wasmtime 50) at a flat cost, so a call's reported fuel is close to a device's, not equal.
# tests/integration/verifier/test_compilers.py holds the two compilers to the same behaviour.
VERIFIER_ENGINE = EngineOptions(
    cranelift_opt_level="none",
    native_unwind_info=False,
    epoch_interruption=False,
    compiler="winch",
    parallel_compilation=False,
)


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (used + seconds, hard))


def empty_directory(path: Path) -> None:
    """Remove everything inside ``path`` (links themselves, never what they point to)."""
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class Exercise:
    """One plugin's runs in a job, recorded as they happen: the reply even if one never ends."""

    def __init__(self, plugin: Plugin, base: AnalyseResult) -> None:
        self.plugin = plugin
        self.base = base
        self.describe: str | None = None
        self.describe_error: str | None = None
        self.vectors: list[VectorOutcome] = []
        self.running: tuple[str, str, str, bool] | None = None
        """The test vector or probe in progress (tool, input, expect, probe); None: describe()."""

    def run(self, job: AnalyseJob, manifest: PluginManifest) -> None:
        """describe(), every test vector, and a probe of each described tool no vector covers."""
        try:
            describe = self.plugin.describe()
            if len(describe.encode()) > job.max_describe_bytes:
                self.describe_error = (
                    f"describe() returned {len(describe.encode()):,} bytes; "
                    f"the limit is {job.max_describe_bytes:,}"
                )
            else:
                self.describe = describe
        except HostError as exc:
            self.describe_error = str(exc)
        runs: list[tuple[str, str, str, bool]] = [
            (v.tool, v.input, v.expect, False) for v in manifest.tests
        ]
        covered = {v.tool for v in manifest.tests}
        runs += [
            (tool, "{}", "any", True)
            for tool in parse_describe(self.describe, max_tools=job.max_tools).names[
                : job.max_probes
            ]
            if tool not in covered
        ]
        for run in runs:
            self.running = run
            self.vectors.append(_run_one(self.plugin, *run))

    def result(self) -> AnalyseResult:
        return _replace(
            self.base,
            describe=self.describe,
            describe_error=self.describe_error,
            vectors=list(self.vectors),
            audit=self.plugin.audit.entries(),
            audit_counts=self.plugin.audit.counts(),
        )

    def timed_out(self, call: WatchedCall) -> AnalyseResult:
        """The reply when ``call`` outlived its timeout: what ran before it, then the timeout."""
        message = timeout_message(call.plugin, call.what, call.timeout_s)
        if self.running is None:
            self.describe_error = message
        else:
            tool, input_json, expect, probe = self.running
            self.vectors.append(
                VectorOutcome(
                    tool=tool,
                    input=input_json,
                    expect=expect,
                    outcome="trap",
                    detail=message,
                    duration_s=call.timeout_s,
                    probe=probe,
                )
            )
        return _replace(self.result(), stopped=True)


def _run_one(plugin: Plugin, tool: str, input_json: str, expect: str, probe: bool) -> VectorOutcome:
    started = time.monotonic()
    try:
        outcome = plugin.call(tool, input_json)
    except HostError as exc:
        kind: Literal["error", "refused", "trap"] = "trap"
        if isinstance(exc, PluginError):
            kind = "error"
        elif isinstance(exc, InvalidInput):
            kind = "refused"
        return VectorOutcome(
            tool=tool,
            input=input_json,
            expect=expect,
            outcome=kind,
            detail=str(exc)[:4096],
            duration_s=time.monotonic() - started,
            probe=probe,
        )
    return VectorOutcome(
        tool=tool,
        input=input_json,
        expect=expect,
        outcome="ok",
        detail=outcome.output[:4096],
        fuel_used=outcome.fuel_used,
        duration_s=outcome.duration_s,
        probe=probe,
    )


def _replace(result: AnalyseResult, **changes: object) -> AnalyseResult:
    return msgspec.structs.replace(result, **changes)


class Analyser:
    """Serves the parent's jobs; its watchdog may end the process in the middle of one."""

    def __init__(self, settings: HostSettings, scratch_dir: Path, replies: IO[bytes]) -> None:
        self.scratch_dir = scratch_dir
        self.replies = replies
        self.reply_lock = threading.Lock()
        self.exercise: Exercise | None = None
        self.watchdog = CallWatchdog(self._expired, reply_lock=self.reply_lock)
        self.host = PluginHost(
            settings,
            engine=PluginEngine(VERIFIER_ENGINE),
            log_sink=lambda _plugin, _level, _message: None,
            call_watch=self.watchdog,
        )

    def reply(self, message: AnalyseResult | ChildFailure | Compiled) -> None:
        with self.reply_lock:
            write_message(self.replies, message)

    def _expired(self, call: WatchedCall) -> None:
        """A call outlived its timeout (the reply lock is held): report it, and end."""
        try:
            exercise = self.exercise
            if exercise is not None:
                write_message(self.replies, exercise.timed_out(call))
            else:
                message = timeout_message(call.plugin, call.what, call.timeout_s)
                write_message(self.replies, ChildFailure(kind="timeout", error=message))
        finally:
            os._exit(0)

    def analyse(self, job: AnalyseJob) -> AnalyseResult:
        started = time.monotonic()
        try:
            compiled = self.host.compile(job.component)
        except HostError as exc:
            return AnalyseResult(compiled=False, compile_error=str(exc))
        compile_s = time.monotonic() - started
        result = AnalyseResult(
            compiled=True,
            compile_s=compile_s,
            imports=compiled.shape.imports,
            exports=compiled.shape.exports,
        )
        if not job.run:
            return result
        if not judge_shape(compiled.shape).passed:
            return result
        self.reply(Compiled())
        try:
            manifest = parse_manifest(job.manifest)
        except ManifestInvalid as exc:
            return _replace(result, load_error=str(exc))
        return self._run(compiled, manifest, job, _replace(result, ran=True))

    def _run(
        self,
        compiled: CompiledComponent,
        manifest: PluginManifest,
        job: AnalyseJob,
        base: AnalyseResult,
    ) -> AnalyseResult:
        # The plugin's data directory is the child's scratch directory, emptied after every
        # job, so no plugin sees what another left. A job that cannot empty it ends with a
        # ChildFailure or the watchdog's exit, and the next job gets a new child and directory.
        try:
            plugin = self.host.load_compiled(compiled, manifest, data_dir=self.scratch_dir)
        except PluginLoadError as exc:
            return _replace(base, load_error=str(exc))
        self.exercise = exercise = Exercise(plugin, base)
        try:
            exercise.run(job, manifest)
        finally:
            self.exercise = None
            empty_directory(self.scratch_dir)
        return exercise.result()


def main() -> int:
    parser = argparse.ArgumentParser(description="clawft verifier isolation child")
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument(
        "--scratch-dir",
        type=Path,
        required=True,
        help="an empty directory the parent owns (and removes); plugins' data directory",
    )
    parser.add_argument("--scratch-bytes", type=int, required=True)
    parser.add_argument("--scratch-entries", type=int, required=True)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_DATA, (args.memory_bytes, args.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    settings = HostSettings(
        cache_dir=None,
        size_budget=UNBOUNDED_BUDGET,
        http=HttpPolicy(offline=True),
        # Smoke runs are short; let every log line through so the audit shows them all.
        log_rate=RateLimit(per_second=1000.0, burst=1000),
        # The data directory is a scratch one, emptied after the run: nothing to make durable,
        # and a bounded amount to write.
        durable_writes=False,
        write_budget_bytes=args.scratch_bytes,
        data_quota=DataQuota(bytes=args.scratch_bytes, entries=args.scratch_entries),
    )
    # Protocol messages get their own descriptor; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    analyser = Analyser(settings, args.scratch_dir, replies)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        serve(analyser, sys.stdin.buffer)
    finally:
        # The parent closed the pipe, died, or stops the whole group: the scratch directory
        # goes now (the parent removes it too, if it can).
        shutil.rmtree(args.scratch_dir, ignore_errors=True)
    return 0


def serve(analyser: Analyser, jobs: IO[bytes]) -> None:
    """Answer jobs until the pipe closes."""
    while True:
        try:
            job = read_message(jobs, AnalyseJob)
        except EOFError:
            return
        _limit_cpu(job.cpu_seconds)
        try:
            analyser.reply(analyser.analyse(job))
        except MemoryError:
            analyser.reply(ChildFailure(kind="memory", error="memory limit reached"))
        except Exception as exc:  # report, do not die: the parent records the reason
            analyser.reply(ChildFailure(kind="error", error=f"{type(exc).__name__}: {exc}"))


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
