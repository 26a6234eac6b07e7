"""What the host refuses before a plugin runs: structure, imports, exports, size budget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from client.host import (
    ForbiddenImport,
    ManifestError,
    MissingExport,
    NotAComponent,
    PluginHost,
    SizeBudgetExceeded,
)
from client.manifest import PluginManifest
from tests.conftest import LogRecorder, component_of
from verifier.checks.manifest import check_manifest
from verifier.settings import VerifierSettings

KIB = 1024


def test_forbidden_import_is_named(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(ForbiddenImport, match=r"wasi:sockets/tcp@0\.2\.0") as info:
        host.load(component_of(built["forbidden-import"]))
    assert info.value.offending == ["wasi:sockets/tcp@0.2.0 (not on the sandbox's WASI allowlist)"]


def test_wrong_typed_host_import_is_named(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(ForbiddenImport) as info:
        host.load(component_of(built["wrong-typed-import"]))
    assert any(
        "clawft:plugin/host@0.1.0#log has type func(message: string), "
        "expected func(level: u8, message: string)" in item
        for item in info.value.offending
    )


def test_missing_export(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(MissingExport, match="#invoke is missing"):
        host.load(component_of(built["missing-export"]))


def test_core_module_is_not_a_component(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(NotAComponent, match="core WebAssembly module, not a component"):
        host.load(component_of(built["core-module"]))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\x00asm", "truncated"),
        (b"MZ\x90\x00" + b"\x00" * 100, "does not start with"),
        (b"\x00asm\x0d\x00\x01\x00" + b"\xff" * 64, "not a valid WebAssembly component"),
        (b"\x00asm\x02\x00\x00\x00", "unsupported WebAssembly version"),
    ],
)
def test_garbage_and_truncated_files(host: PluginHost, data: bytes, reason: str) -> None:
    manifest = PluginManifest(name="test/garbage", version="0.1.0", component="g.wasm")
    with pytest.raises(NotAComponent, match=reason):
        host.load_bytes(data, manifest)


def test_truncated_real_component(host: PluginHost, built: dict[str, Path]) -> None:
    data = component_of(built["hello"]).read_bytes()
    manifest = PluginManifest(name="test/cut", version="0.1.0", component="cut.wasm")
    with pytest.raises(NotAComponent, match="not a valid WebAssembly component"):
        host.load_bytes(data[: len(data) // 2], manifest)


def test_over_budget_component(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(
        SizeBudgetExceeded, match=r"the component is .* over the budget of 307,200"
    ) as info:
        host.load(component_of(built["over-budget"]))
    assert info.value.measured > 300 * KIB and info.value.allowed == 300 * KIB


def test_over_gzip_budget_component(host: PluginHost, built: dict[str, Path]) -> None:
    path = component_of(built["over-gzip-budget"])
    assert path.stat().st_size < 300 * KIB
    with pytest.raises(SizeBudgetExceeded, match=r"the gzipped component .* budget of 122,880"):
        host.load(path)


def test_over_budget_plugin_directory(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    plugin_dir = tmp_path / "heavy"
    plugin_dir.mkdir()
    for name in ("hello.wasm", "clawft-plugin.toml"):
        (plugin_dir / name).write_bytes((built["hello"] / name).read_bytes())
    (plugin_dir / "assets").mkdir()
    (plugin_dir / "assets" / "blob.bin").write_bytes(b"\0" * (10 * 1024 * 1024))
    with pytest.raises(SizeBudgetExceeded, match="plugin directory"):
        host.load(plugin_dir / "hello.wasm")


def test_manifest_naming_another_component(host: PluginHost, built: dict[str, Path]) -> None:
    with pytest.raises(ManifestError, match=r"names component .notes\.wasm."):
        host.load(component_of(built["hello"]), manifest=built["notes"] / "clawft-plugin.toml")


def test_broken_manifest(host: PluginHost, built: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "hello.wasm").write_bytes(component_of(built["hello"]).read_bytes())
    (tmp_path / "clawft-plugin.toml").write_text('name = "Not Valid"', encoding="utf-8")
    with pytest.raises(ManifestError, match="not a valid plugin manifest"):
        host.load(tmp_path / "hello.wasm")


def test_component_without_manifest_runs_with_no_permissions(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "fs.wasm").write_bytes(component_of(built["fs-probe"]).read_bytes())
    plugin = host.load(tmp_path / "fs.wasm", data_dir=tmp_path)
    assert plugin.name == "local/fs"
    assert plugin.manifest.permissions.filesystem == []


def test_wasi_is_inert_and_stdout_goes_to_the_log(
    host: PluginHost,
    built: dict[str, Path],
    log_recorder: LogRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOULD_NOT_LEAK", "x")
    plugin = host.load(component_of(built["wasi-probe"]))
    assert json.loads(plugin.invoke("env", "{}")) == {"count": 0}
    assert json.loads(plugin.invoke("print", "{}")) == {"printed": True}
    assert ("test/wasi-probe", 2, "hello from stdout") in log_recorder.lines
    assert plugin.audit.entries(function="log")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("a/./b", "is not a normalised relative path"),
        ("notes//today", "is not a normalised relative path"),
        ("notes/..", "is not a normalised relative path"),
        (" ", "is blank"),
        ("", "length >= 1"),
        (" notes/", "has a part padded with spaces"),
        ("notes /x", "has a part padded with spaces"),
        ("/etc", "must be a relative path"),
        ("notes\\\\x", "control character or backslash"),
    ],
)
def test_filesystem_entries_are_judged_alike_by_host_and_verifier(
    host: PluginHost, built: dict[str, Path], tmp_path: Path, entry: str, reason: str
) -> None:
    """One parser: an entry the verifier refuses never reaches a device, and one it approved
    grants the same paths there (" " once passed the verifier, then meant the whole data
    directory on the host; "a/./b" crashed the host's load with a traceback)."""
    component = tmp_path / "notes.wasm"
    component.write_bytes(component_of(built["notes"]).read_bytes())
    manifest = (built["notes"] / "clawft-plugin.toml").read_text(encoding="utf-8")
    assert 'filesystem = ["notes/"]' in manifest
    text = manifest.replace('filesystem = ["notes/"]', f'filesystem = ["{entry}"]')
    (tmp_path / "clawft-plugin.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=re.escape(reason)):
        host.load(component, data_dir=tmp_path)
    result, parsed = check_manifest(
        text.encode(), "notes.wasm", component.read_bytes(), VerifierSettings()
    )
    assert parsed is None and not result.passed and reason in result.reason
