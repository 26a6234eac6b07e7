"""The verifier compiles with Winch; devices run what Cranelift compiles. Every example and
hostile plugin must behave the same under both: the same answers, errors and traps for
describe(), its test vectors and a probe of each tool, so a verdict predicts the device."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import wasmtime
from wasmtime.component import Component

from client.host import (
    FuelExhausted,
    HostSettings,
    HttpPolicy,
    PluginHost,
    TimeoutExceeded,
)
from client.host.engine import EngineOptions, PluginEngine
from client.manifest import MANIFEST_FILE_NAME, load_manifest
from tests.conftest import component_of
from verifier.isolation.child import VERIFIER_ENGINE, Exercise
from verifier.isolation.protocol import AnalyseJob, AnalyseResult
from verifier.settings import VerifierSettings

EDGE = EngineOptions()
"""What a device runs: Cranelift, optimised."""
VERIFIER = dataclasses.replace(VERIFIER_ENGINE, epoch_interruption=True)
"""The verifier's engine, with the device's own timeouts (the isolation child's call watchdog
ends its process at a timeout, which a test process cannot do)."""


def behaviour(
    engine: PluginEngine, plugin_dir: Path, data_dir: Path
) -> list[tuple[str, str | None, str | None]]:
    """The verifier's own runs of a plugin (describe(), its test vectors, a probe of each
    untested tool): what each answered, or the kind and text of its error."""
    host = PluginHost(HostSettings(cache_dir=None, http=HttpPolicy(offline=True)), engine=engine)
    manifest = load_manifest(plugin_dir / MANIFEST_FILE_NAME)
    plugin = host.load(component_of(plugin_dir), manifest=manifest, data_dir=data_dir)
    settings = VerifierSettings()
    job = AnalyseJob(
        component=b"",
        manifest=b"",
        cpu_seconds=settings.isolation.cpu_seconds,
        run=True,
        max_describe_bytes=settings.max_describe_bytes,
        max_tools=settings.max_tools,
        max_probes=settings.max_probes,
    )
    exercise = Exercise(plugin, AnalyseResult(compiled=True))
    exercise.run(job, manifest)
    return [("describe", exercise.describe, exercise.describe_error)] + [
        (f"{vector.tool} {vector.input}", vector.outcome, vector.detail)
        for vector in exercise.vectors
    ]


def test_the_verifier_compiles_with_winch_on_one_thread() -> None:
    """An artifact of the verifier's engine carries Winch's calling convention, which an engine
    of Cranelift with otherwise the same options refuses: the option reaches wasmtime, it is
    not a name only."""
    assert VERIFIER_ENGINE.compiler == "winch" and not VERIFIER_ENGINE.parallel_compilation
    cranelift = dataclasses.replace(VERIFIER_ENGINE, compiler="cranelift")
    wat = '(component (core module (func (export "f"))))'
    artifact = Component(wasmtime.Engine(VERIFIER_ENGINE.config()), wasmtime.wat2wasm(wat))
    with pytest.raises(wasmtime.WasmtimeError, match="Winch"):
        Component.deserialize(wasmtime.Engine(cranelift.config()), artifact.serialize())
    assert VERIFIER_ENGINE.fingerprint() != cranelift.fingerprint()


@pytest.fixture(scope="module")
def engines() -> tuple[PluginEngine, PluginEngine]:
    return PluginEngine(EDGE), PluginEngine(VERIFIER)


# Not here: the plugins whose runs take seconds (sleeper, slow-loop, wasi-waits: timeouts;
# log-flood: 200,000 log lines; fill-loop, below), covered by the hostile tests under each
# engine, and over-budget and over-gzip-budget, which a host refuses to load.
@pytest.mark.parametrize(
    "name",
    [
        "hello",
        "notes",
        "fetch",
        "audit-flush",
        "deep-recursion",
        "env-probe",
        "fs-probe",
        "host-call-chain",
        "infinite-loop",
        "inode-bomb",
        "memory-bomb",
        "ssrf-probe",
        "table-bomb",
        "terminal-forger",
        "wasi-probe",
    ],
)
def test_a_plugin_behaves_alike_under_both_compilers(
    name: str,
    built: dict[str, Path],
    engines: tuple[PluginEngine, PluginEngine],
    tmp_path: Path,
) -> None:
    edge, verifier = engines
    started = time.monotonic()
    on_device = behaviour(edge, built[name], tmp_path / "edge")
    in_verifier = behaviour(verifier, built[name], tmp_path / "verifier")
    assert in_verifier == on_device
    assert len(on_device) >= 2  # describe() and at least one tool ran
    assert time.monotonic() - started < 60


def test_bulk_memory_work_is_stopped_under_both_compilers(
    built: dict[str, Path], engines: tuple[PluginEngine, PluginEngine]
) -> None:
    """The one difference the compilers show: ``memory.fill`` costs fuel per byte under
    Cranelift, a flat amount under Winch. A plugin filling its memory forever runs out of fuel
    on a device at once, and in the verifier runs into its timeout (1 s): stopped either way."""
    edge, verifier = engines
    settings = HostSettings(cache_dir=None, http=HttpPolicy(offline=True))
    component = component_of(built["fill-loop"])
    started = time.monotonic()
    with pytest.raises(FuelExhausted, match="fuel budget of 1,000,000,000"):
        PluginHost(settings, engine=edge).load(component).invoke("fill", "{}")
    assert time.monotonic() - started < 1.0
    with pytest.raises(TimeoutExceeded, match="timeout of 1 s"):
        PluginHost(settings, engine=verifier).load(component).invoke("fill", "{}")
