"""Every check passes on the example plugins and fails, with its reason, on a matching bad case.

Components are compiled and run in the verifier's isolation child, as in production.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from client.manifest import SmokeTest
from tests.conftest import component_of, with_manifest
from verifier import PluginUpload, VerificationReport, VerifierSettings, verify_plugin
from verifier.isolation import IsolatedAnalyser
from verifier.isolation.scratch import scratch_root
from verifier.settings import IsolationLimits

SETTINGS = VerifierSettings()


@pytest.fixture(scope="module")
def analyser() -> Iterator[IsolatedAnalyser]:
    shared = IsolatedAnalyser(SETTINGS.isolation)
    yield shared
    shared.close()


def upload_of(plugin_dir: Path) -> PluginUpload:
    component = component_of(plugin_dir)
    return PluginUpload(
        manifest=(plugin_dir / "clawft-plugin.toml").read_bytes(),
        component=component.read_bytes(),
        component_name=component.name,
    )


def verify(
    upload: PluginUpload, analyser: IsolatedAnalyser, **kwargs: object
) -> VerificationReport:
    return verify_plugin(upload, analyser=analyser, **kwargs)  # type: ignore[arg-type]


def check(report: VerificationReport, name: str) -> tuple[bool, str]:
    (found,) = [c for c in report.checks if c.name == name]
    return found.passed, found.reason


@pytest.mark.parametrize("plugin", ["hello", "notes", "fetch"])
def test_examples_are_approved(
    built: dict[str, Path], analyser: IsolatedAnalyser, plugin: str
) -> None:
    report = verify(upload_of(built[plugin]), analyser)
    assert report.verdict == "approved", [c.reason for c in report.failures]
    assert [c.name for c in report.checks] == [
        "manifest",
        "size-budget",
        "component-structure",
        "imports",
        "exports",
        "behaviour",
        "signature",
    ]
    assert report.plugin == f"clawft/{plugin}"
    assert report.verifier_version and report.policy.component_max_bytes == 300 * 1024


def test_every_allowed_wasi_wait_returns_and_is_approved(
    built: dict[str, Path], analyser: IsolatedAnalyser
) -> None:
    report = verify(upload_of(built["wasi-waits"]), analyser)
    assert report.verdict == "approved", [c.reason for c in report.failures]
    (behaviour,) = [c for c in report.checks if c.name == "behaviour"]
    assert [v["tool"] for v in behaviour.details["vectors"]] == ["stdin", "stdout", "poll"]
    assert behaviour.duration_s < 2


def test_an_audit_flushed_with_permitted_calls_still_rejects(
    built: dict[str, Path], analyser: IsolatedAnalyser
) -> None:
    """Undeclared calls followed by enough declared ones to flush a ring of recent entries: the
    verifier still sees the undeclared ones, and says how many entries the report lacks."""
    report = verify(upload_of(built["audit-flush"]), analyser)
    assert report.verdict == "rejected"
    (behaviour,) = [c for c in report.checks if c.name == "behaviour"]
    assert behaviour.reason.startswith(
        "the plugin made a host call its manifest does not permit: get-env(UNDECLARED_VARIABLE)"
    )
    assert len(behaviour.details["denied_calls"]) == 3
    assert report.audit_counts is not None
    assert (report.audit_counts.calls, report.audit_counts.denied) == (20_003, 3)
    assert [a.permitted for a in report.audit[:3]] == [False] * 3


def test_an_audit_that_lost_denied_calls_rejects_for_it(
    built: dict[str, Path], analyser: IsolatedAnalyser, tmp_path: Path
) -> None:
    component = with_manifest(
        built["audit-flush"],
        tmp_path / "many",
        tests=[SmokeTest(tool="flush", input='{"denied": 5000, "permitted": 0}', expect="ok")],
    )
    report = verify(upload_of(component.parent), analyser)
    (behaviour,) = [c for c in report.checks if c.name == "behaviour"]
    assert not behaviour.passed
    assert any(
        "5,000 host calls its sandbox denied, more than the audit log keeps (4,000 not kept)" in p
        for p in behaviour.details["problems"]
    )
    assert report.audit_counts is not None and report.audit_counts.denied_dropped == 4000


def test_notes_audit_is_attached(built: dict[str, Path], analyser: IsolatedAnalyser) -> None:
    report = verify(upload_of(built["notes"]), analyser)
    assert [(a.function, a.permitted) for a in report.audit] == [
        ("write-file", True),
        ("read-file", True),
    ]


@pytest.mark.parametrize(
    ("plugin", "failed", "reason"),
    [
        ("infinite-loop", "behaviour", "fuel budget"),
        ("slow-loop", "behaviour", "timeout of 1 s"),
        ("fill-loop", "behaviour", "timeout of 1 s"),
        ("memory-bomb", "behaviour", "aborted in tool 'grow-and-abort'"),
        ("table-bomb", "behaviour", "aborted in tool 'grow-and-abort'"),
        ("deep-recursion", "behaviour", "call stack"),
        ("log-flood", "behaviour", "rate limit"),
        ("env-probe", "manifest", "deny list"),
        ("ssrf-probe", "manifest", "local host"),
        ("forbidden-import", "imports", "wasi:sockets/tcp@0.2.0"),
        ("sleeper", "imports", "monotonic-clock@0.2.0#subscribe-duration (makes a timer"),
        ("host-call-chain", "behaviour", "logged faster than the host's rate limit"),
        ("inode-bomb", "behaviour", "holds 1,000 files and directories, its quota"),
        ("wrong-typed-import", "imports", "#log has type func(message: string)"),
        ("missing-export", "exports", "#invoke is missing"),
        ("core-module", "component-structure", "core WebAssembly module"),
        ("over-budget", "size-budget", "over the budget of 307,200"),
        ("over-gzip-budget", "size-budget", "gzipped, over the budget"),
    ],
)
def test_hostile_plugins_are_rejected_with_their_reason(
    built: dict[str, Path], analyser: IsolatedAnalyser, plugin: str, failed: str, reason: str
) -> None:
    report = verify(upload_of(built[plugin]), analyser)
    assert report.verdict == "rejected"
    passed, got = check(report, failed)
    assert not passed
    assert reason in got


def test_undeclared_host_is_rejected_not_contained(
    built: dict[str, Path], analyser: IsolatedAnalyser, tmp_path: Path
) -> None:
    component = with_manifest(
        built["fetch"],
        tmp_path / "fetch",
        tests=[SmokeTest(tool="get", input='{"url": "https://evil.test/x"}', expect="error")],
    )
    report = verify(upload_of(component.parent), analyser)
    passed, reason = check(report, "behaviour")
    assert not passed
    assert "host call its manifest does not permit: http-request(GET https://evil.test/x)" in reason


def test_path_outside_declared_paths_is_rejected(
    built: dict[str, Path], analyser: IsolatedAnalyser, tmp_path: Path
) -> None:
    component = with_manifest(
        built["fs-probe"],
        tmp_path / "fs",
        tests=[SmokeTest(tool="read", input='{"path": "../../etc/passwd"}', expect="error")],
    )
    report = verify(upload_of(component.parent), analyser)
    passed, reason = check(report, "behaviour")
    assert not passed and "read-file(../../etc/passwd)" in reason


def test_vector_with_wrong_expectation_fails(
    built: dict[str, Path], analyser: IsolatedAnalyser, tmp_path: Path
) -> None:
    component = with_manifest(
        built["hello"],
        tmp_path / "hello",
        tests=[SmokeTest(tool="greet", input="{}", expect="ok")],
    )
    passed, reason = check(verify(upload_of(component.parent), analyser), "behaviour")
    assert not passed and "expected ok but got error" in reason


def test_every_offending_import_is_named(analyser: IsolatedAnalyser) -> None:
    wat = """
    (component
      (import "wasi:sockets/tcp@0.2.0" (instance (export "probe" (func (result u32)))))
      (import "wasi:http/outgoing-handler@0.2.0" (instance (export "probe" (func (result u32)))))
      (import "evil:pkg/thing" (instance (export "probe" (func (result u32)))))
    )
    """
    upload = PluginUpload(
        manifest=b'name = "test/imports"\nversion = "0.1.0"\ncomponent = "i.wasm"\n',
        component=wasmtime.wat2wasm(wat),
        component_name="i.wasm",
    )
    report = verify(upload, analyser)
    passed, reason = check(report, "imports")
    assert not passed and reason.startswith("3 import(s)")
    for name in ("wasi:sockets/tcp", "wasi:http/outgoing-handler", "evil:pkg/thing"):
        assert name in reason
    assert not check(report, "exports")[0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\x7fELF" + b"\x00" * 200, "not WebAssembly"),
    ],
)
def test_garbage_is_not_a_component(analyser: IsolatedAnalyser, data: bytes, reason: str) -> None:
    upload = PluginUpload(
        manifest=b'name = "test/g"\nversion = "0.1.0"\ncomponent = "g.wasm"\n',
        component=data,
        component_name="g.wasm",
    )
    passed, got = check(verify(upload, analyser), "component-structure")
    assert not passed and reason in got


def test_truncated_component(built: dict[str, Path], analyser: IsolatedAnalyser) -> None:
    upload = upload_of(built["hello"])
    cut = dataclasses.replace(upload, component=upload.component[:3000])
    passed, got = check(verify(cut, analyser), "component-structure")
    assert not passed and "not a valid WebAssembly component" in got


def huge_function_component(statements: int, functions: int = 1) -> bytes:
    body = "\n".join(
        f"(local.set 0 (i32.add (local.get 0) (i32.const {i})))" for i in range(statements)
    )
    funcs = " ".join(f'(func (export "f{n}") (local i32) {body})' for n in range(functions))
    return wasmtime.wat2wasm(
        f"(component (core module $m {funcs}) (core instance (instantiate $m)))"
    )


def test_cpu_limit_of_the_child_stops_a_runaway(built: dict[str, Path], tmp_path: Path) -> None:
    """Work in the child is bounded by RLIMIT_CPU, whatever the plugin's own limits allow:
    here a loop with the maximum fuel and timeout, under a 1 s CPU limit."""
    component = with_manifest(
        built["slow-loop"],
        tmp_path / "runaway",
        resources={"max_fuel": 10_000_000_000, "timeout_s": 300.0},
        tests=[SmokeTest(tool="spin", input="{}", expect="ok")],
    )
    settings = VerifierSettings(isolation=IsolationLimits(cpu_seconds=1, wall_seconds=60))
    analyser = IsolatedAnalyser(settings.isolation)
    try:
        report = verify_plugin(upload_of(component.parent), settings=settings, analyser=analyser)
        passed, reason = check(report, "component-structure")
        assert not passed and "CPU limit of 1 s" in reason
        # The analyser replaced its child and goes on serving.
        again = verify_plugin(upload_of(built["hello"]), settings=settings, analyser=analyser)
        assert again.verdict == "approved"
    finally:
        analyser.close()


def test_huge_function_compiles_in_bounded_time(analyser: IsolatedAnalyser) -> None:
    """A single 400,000-statement function (3.5 MB): compiled by the child without stalling.

    With Cranelift's optimiser this takes seconds and hundreds of MB; the verifier compiles
    without it, so the worst case costs a fraction of a second.
    """
    from client.host.settings import SizeBudget

    settings = VerifierSettings(
        size_budget=SizeBudget(component_bytes=64 << 20, component_gzip_bytes=64 << 20)
    )
    upload = PluginUpload(
        manifest=b'name = "test/huge"\nversion = "0.1.0"\ncomponent = "h.wasm"\n',
        component=huge_function_component(400_000),
        component_name="h.wasm",
    )
    report = verify_plugin(upload, settings=settings, analyser=analyser)
    structure = next(c for c in report.checks if c.name == "component-structure")
    assert structure.passed and structure.duration_s < 5.0
    assert not check(report, "exports")[0]


def test_memory_limit_of_the_child(built: dict[str, Path]) -> None:
    from client.host.settings import SizeBudget

    settings = VerifierSettings(
        size_budget=SizeBudget(component_bytes=64 << 20, component_gzip_bytes=64 << 20),
        isolation=IsolationLimits(cpu_seconds=30, memory_bytes=96 << 20, wall_seconds=30),
    )
    analyser = IsolatedAnalyser(settings.isolation)
    try:
        upload = PluginUpload(
            manifest=b'name = "test/huge"\nversion = "0.1.0"\ncomponent = "h.wasm"\n',
            # Winch compiles one such function within the limit: three need more.
            component=huge_function_component(200_000, functions=3),
            component_name="h.wasm",
        )
        passed, reason = check(
            verify_plugin(upload, settings=settings, analyser=analyser), "component-structure"
        )
        assert not passed and "memory limit of 96 MB" in reason
    finally:
        analyser.close()


def test_wall_clock_limit_kills_and_replaces_the_child(
    built: dict[str, Path], tmp_path: Path
) -> None:
    component = with_manifest(
        built["slow-loop"],
        tmp_path / "slow",
        resources={"timeout_s": 20.0},
        tests=[SmokeTest(tool="spin", input="{}", expect="ok")],
    )
    settings = VerifierSettings(isolation=IsolationLimits(cpu_seconds=30, wall_seconds=1.5))
    analyser = IsolatedAnalyser(settings.isolation)
    try:
        verify_plugin(upload_of(built["notes"]), settings=settings, analyser=analyser)
        killed_scratch = analyser.scratch_dir
        assert killed_scratch is not None
        report = verify_plugin(upload_of(component.parent), settings=settings, analyser=analyser)
        passed, reason = check(report, "component-structure")
        assert not passed and "wall-clock limit of 1.5 s" in reason
        # The killed child's scratch directory went with it.
        assert not Path(killed_scratch).exists()
        again = verify_plugin(upload_of(built["hello"]), settings=settings, analyser=analyser)
        assert again.verdict == "approved"
        assert analyser.scratch_dir not in (None, killed_scratch)
    finally:
        analyser.close()
    assert analyser.scratch_dir is None


def test_no_plugin_sees_the_files_another_left(built: dict[str, Path], tmp_path: Path) -> None:
    """The child reuses one data directory and empties it after every job: after notes saved
    notes/today.txt, a plugin loading that path finds nothing."""
    analyser = IsolatedAnalyser(SETTINGS.isolation)
    loader = with_manifest(
        built["notes"],
        tmp_path / "loader",
        tests=[SmokeTest(tool="load", input='{"path": "notes/today.txt"}', expect="error")],
    )
    try:
        saved = verify(upload_of(built["notes"]), analyser)
        assert saved.verdict == "approved"
        assert "write-file" in {entry.function for entry in saved.audit}
        scratch = analyser.scratch_dir
        assert scratch is not None and not any(Path(scratch).iterdir())
        report = verify(upload_of(loader.parent), analyser)
        assert report.verdict == "approved", [c.reason for c in report.failures]
        assert analyser.scratch_dir == scratch  # the same child, the same directory
    finally:
        analyser.close()
    assert not Path(scratch).exists()


def test_report_is_stable_json(built: dict[str, Path], analyser: IsolatedAnalyser) -> None:
    first = verify(upload_of(built["notes"]), analyser)
    second = verify(upload_of(built["notes"]), analyser)
    assert first.without_timings().to_json() == second.without_timings().to_json()
    decoded = VerificationReport.from_json(first.to_json())
    assert decoded == first
    text = first.to_json().decode()
    assert text.index('"audit"') < text.index('"checks"') < text.index('"verdict"')


def test_a_call_past_its_timeout_is_reported_as_the_edge_words_it(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """The child compiles without epochs; its watchdog stops a call at the plugin's timeout,
    keeps what ran before it (describe() here), words the reason as the edge's epoch trap does,
    and ends the child, which the analyser replaces."""
    from client.host import HostSettings, PluginHost, TimeoutExceeded

    # A loop of pure wasm (no host call for the host's own deadline check to catch): fuel for
    # over a second of it on this machine, and half a second to run.
    component = with_manifest(
        built["infinite-loop"],
        tmp_path / "slow",
        resources={"max_fuel": 10_000_000_000, "timeout_s": 0.5},
        tests=[SmokeTest(tool="spin", input="{}", expect="ok")],
    )
    analyser = IsolatedAnalyser(SETTINGS.isolation)
    try:
        verify(upload_of(built["hello"]), analyser)
        first_scratch = analyser.scratch_dir
        report = verify(upload_of(component.parent), analyser)
        behaviour = next(c for c in report.checks if c.name == "behaviour")
        assert not behaviour.passed
        assert behaviour.details["tools"] == ["spin"]  # describe() ran before the timeout
        (vector,) = behaviour.details["vectors"]
        assert vector["outcome"] == "trap"
        # The next job runs in a new child.
        assert analyser.scratch_dir not in (None, first_scratch)
        assert not Path(first_scratch or "").exists()
        assert verify(upload_of(built["hello"]), analyser).verdict == "approved"
    finally:
        analyser.close()
    edge = PluginHost(HostSettings(cache_dir=None)).load(component)
    with pytest.raises(TimeoutExceeded) as edge_error:
        edge.invoke("spin", "{}")
    assert vector["detail"] == str(edge_error.value)


def test_scratch_directory_is_memory_backed_and_bounded(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """By default the scratch directory lives in /dev/shm (where there is one); a configured
    root wins; and what a plugin may write there in one verification is bounded."""
    analyser = IsolatedAnalyser(SETTINGS.isolation)
    try:
        verify(upload_of(built["hello"]), analyser)
        scratch = Path(analyser.scratch_dir or "")
        assert scratch.parent == scratch_root(SETTINGS.isolation)
    finally:
        analyser.close()
    if Path("/dev/shm").is_dir():  # a machine of this kind: a large /dev/shm
        assert scratch_root(SETTINGS.isolation) == Path("/dev/shm")
        # A budget the memory-backed directory has no room for sends scratch to disk.
        assert scratch_root(IsolationLimits(scratch_bytes=1 << 50)) == Path(tempfile.gettempdir())
    limits = IsolationLimits(scratch_bytes=4, scratch_root=tmp_path)
    settings = VerifierSettings(isolation=limits)
    bounded = IsolatedAnalyser(limits)
    try:
        report = verify_plugin(upload_of(built["notes"]), settings=settings, analyser=bounded)
        assert Path(bounded.scratch_dir or "").parent == tmp_path
    finally:
        bounded.close()
    passed, reason = check(report, "behaviour")
    assert not passed and "of the 4 bytes it may write" in reason
    assert list(tmp_path.iterdir()) == []
