"""The isolation child: compiles and runs untrusted components under OS resource limits.

Run by :class:`verifier.isolation.IsolatedAnalyser` as ``python -m verifier.isolation.child``.
It serves jobs on stdin/stdout until stdin closes. Before each job it sets its CPU limit
(RLIMIT_CPU) to what it has used so far plus the job's budget, so a component that is slow to
compile or run is killed by the kernel (SIGXCPU); its data segment is capped once at start
(RLIMIT_DATA). The parent turns a killed child into a rejection with the reason.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

import msgspec

from client.host import HostError, HostSettings, HttpPolicy, PluginHost, PluginLoadError
from client.host.engine import EngineOptions, PluginEngine
from client.host.errors import InvalidInput, PluginError
from client.host.imports import ImportPolicy, export_problems
from client.host.plugin import CompiledComponent, Plugin
from client.host.settings import RateLimit, SizeBudget
from client.manifest import ManifestInvalid, PluginManifest, parse_manifest
from verifier.isolation.protocol import (
    AnalyseJob,
    AnalyseResult,
    ChildFailure,
    VectorOutcome,
    read_message,
    write_message,
)

# The parent checks the size budget; the child must not refuse what the parent let through.
UNBOUNDED_BUDGET = SizeBudget(
    component_bytes=1 << 40, component_gzip_bytes=1 << 40, plugin_dir_bytes=1 << 40
)


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (used + seconds, hard))


def _run_vectors(
    host: PluginHost, compiled: CompiledComponent, manifest: PluginManifest, job: AnalyseJob
) -> AnalyseResult:
    base = AnalyseResult(
        compiled=True,
        compile_s=0.0,
        imports=compiled.shape.imports,
        exports=compiled.shape.exports,
        ran=True,
    )
    with tempfile.TemporaryDirectory(prefix="clawft-verify-") as data_dir:
        try:
            plugin = host.load_compiled(compiled, manifest, data_dir=Path(data_dir))
        except PluginLoadError as exc:
            return _replace(base, load_error=str(exc))
        describe: str | None = None
        describe_error: str | None = None
        try:
            describe = plugin.describe()
            if len(describe.encode()) > job.max_describe_bytes:
                describe_error = (
                    f"describe() returned {len(describe.encode()):,} bytes; "
                    f"the limit is {job.max_describe_bytes:,}"
                )
                describe = None
        except HostError as exc:
            describe_error = str(exc)
        runs: list[tuple[str, str, str, bool]] = [
            (v.tool, v.input, v.expect, False) for v in manifest.tests
        ]
        covered = {v.tool for v in manifest.tests}
        runs += [
            (tool, "{}", "any", True)
            for tool in _described_tools(describe)[: job.max_probes]
            if tool not in covered
        ]
        vectors = [_run_one(plugin, *run) for run in runs]
        return _replace(
            base,
            describe=describe,
            describe_error=describe_error,
            vectors=vectors,
            audit=plugin.audit.entries(),
        )


def _described_tools(describe: str | None) -> list[str]:
    """Tool names from a describe() output, or none when it is not the expected shape."""
    if describe is None:
        return []
    try:
        tools = msgspec.json.decode(describe)
    except msgspec.DecodeError:
        return []
    if not isinstance(tools, list):
        return []
    names = [t.get("name") for t in tools if isinstance(t, dict)]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


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


def analyse(host: PluginHost, job: AnalyseJob) -> AnalyseResult:
    started = time.monotonic()
    try:
        compiled = host.compile(job.component)
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
    if ImportPolicy().violations(compiled.shape) or export_problems(compiled.shape):
        return result
    try:
        manifest = parse_manifest(job.manifest)
    except ManifestInvalid as exc:
        return _replace(result, load_error=str(exc))
    ran = _run_vectors(host, compiled, manifest, job)
    return _replace(ran, compile_s=compile_s)


def main() -> int:
    parser = argparse.ArgumentParser(description="clawft verifier isolation child")
    parser.add_argument("--memory-bytes", type=int, required=True)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_DATA, (args.memory_bytes, args.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    settings = HostSettings(
        cache_dir=None,
        size_budget=UNBOUNDED_BUDGET,
        http=HttpPolicy(offline=True),
        # Smoke runs are short; let every log line through so the audit shows them all.
        log_rate=RateLimit(per_second=1000.0, burst=1000),
        # The data directory is a scratch one, deleted after the run: nothing to make durable.
        durable_writes=False,
    )
    # Verification compiles every upload once and runs it briefly: Cranelift's optimiser would
    # cost more than it saves. Fuel, epochs and limits, the sandbox itself, are the same.
    engine = PluginEngine(EngineOptions(cranelift_opt_level="none"))
    host = PluginHost(settings, engine=engine, log_sink=lambda _plugin, _level, _message: None)
    # Protocol messages get their own descriptor; anything a library prints goes to stderr.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    while True:
        try:
            job = read_message(stdin, AnalyseJob)
        except EOFError:
            return 0
        _limit_cpu(job.cpu_seconds)
        try:
            write_message(stdout, analyse(host, job))
        except MemoryError:
            write_message(stdout, ChildFailure(error="memory limit reached"))
        except Exception as exc:  # report, do not die: the parent records the reason
            write_message(stdout, ChildFailure(error=f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    sys.exit(main())
