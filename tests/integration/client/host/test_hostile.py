"""Hostile plugins are contained with a specific error, and the host serves the next call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from client.host import (
    FuelExhausted,
    Plugin,
    PluginError,
    PluginHost,
    PluginTrap,
    StackOverflow,
    TimeoutExceeded,
)
from client.host.limits import MIB
from client.host.settings import DataQuota
from tests.conftest import LogRecorder, component_of, with_manifest

WASM_PAGE = 64 * 1024
FLOOD_MESSAGES = 200_000  # what log-flood's `flood` tool sends


def still_serves(host: PluginHost, built: dict[str, Path]) -> None:
    """The host process goes on serving: a fresh plugin and a call both work."""
    hello = host.load(component_of(built["hello"]))
    assert json.loads(hello.invoke("greet", '{"name": "next"}')) == {"greeting": "Hello, next!"}


def load(host: PluginHost, built: dict[str, Path], name: str, **kwargs: object) -> Plugin:
    return host.load(component_of(built[name]), **kwargs)  # type: ignore[arg-type]


def test_infinite_loop_runs_out_of_fuel(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = load(host, built, "infinite-loop")
    with pytest.raises(FuelExhausted, match="fuel budget of 1,000,000,000"):
        plugin.invoke("spin", "{}")
    # Fuel is per call: the next call starts with a full budget and loops as long again.
    started = time.monotonic()
    with pytest.raises(FuelExhausted):
        plugin.invoke("spin", "{}")
    assert time.monotonic() - started > 0.05
    still_serves(host, built)


def test_slow_loop_hits_the_wall_clock_timeout(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = load(host, built, "slow-loop")
    assert plugin.limits.fuel == 10_000_000_000 and plugin.limits.timeout_s == 1
    started = time.monotonic()
    with pytest.raises(TimeoutExceeded, match="timeout of 1 s"):
        plugin.invoke("spin", "{}")
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3.0
    still_serves(host, built)


def test_memory_grow_bomb_is_capped_at_the_limit(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = load(host, built, "memory-bomb")
    pages = json.loads(plugin.invoke("grow", "{}"))["pages"]
    assert pages * WASM_PAGE <= 16 * MIB
    assert pages * WASM_PAGE > 15 * MIB
    with pytest.raises(PluginTrap, match="16 MB memory"):
        plugin.invoke("grow-and-abort", "{}")
    still_serves(host, built)


def test_memory_limit_follows_the_manifest_request(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    component = with_manifest(
        built["memory-bomb"], tmp_path / "bomb", resources={"max_memory_mb": 4096}
    )
    plugin = host.load(component)
    assert plugin.limits.memory_bytes == 256 * MIB  # clamped to the hard maximum
    pages = json.loads(plugin.invoke("grow", "{}"))["pages"]
    assert 255 * MIB < pages * WASM_PAGE <= 256 * MIB


def test_table_grow_bomb_is_capped_at_the_limit(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = load(host, built, "table-bomb")
    elements = json.loads(plugin.invoke("grow", "{}"))["elements"]
    assert 9_000 < elements <= 10_000
    with pytest.raises(PluginTrap, match="aborted"):
        plugin.invoke("grow-and-abort", "{}")
    still_serves(host, built)


def test_unbounded_recursion_overflows_the_stack(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = load(host, built, "deep-recursion")
    with pytest.raises(StackOverflow, match="call stack"):
        plugin.invoke("recurse", "{}")
    still_serves(host, built)


def test_log_flood_is_rate_limited(
    host: PluginHost, built: dict[str, Path], log_recorder: LogRecorder
) -> None:
    plugin = load(host, built, "log-flood")
    outcome = plugin.call("flood", "{}")
    assert json.loads(outcome.output) == {"done": True}
    emitted = [line for line in log_recorder.lines if line[0] == "test/log-flood"]
    rate = host.settings.log_rate
    assert rate.burst <= len(emitted) <= rate.burst + rate.per_second * outcome.duration_s + 1
    assert len(emitted) + plugin.functions.dropped_logs() == FLOOD_MESSAGES
    # One denied entry per streak of drops (each streak follows an emitted message), so the
    # audit trail grows with the rate limit, not with the flood.
    denied = plugin.audit.entries(function="log", permitted=False)
    assert 1 <= len(denied) <= len(emitted) - rate.burst + 1
    assert all("rate limit" in (entry.error or "") for entry in denied)
    assert len(plugin.audit) <= host.settings.max_audit_entries
    still_serves(host, built)


def test_huge_log_message_is_cut_at_4_kb(
    host: PluginHost, built: dict[str, Path], log_recorder: LogRecorder
) -> None:
    plugin = load(host, built, "log-flood")
    plugin.invoke("huge", "{}")
    ((_, _, message),) = log_recorder.lines
    assert message.startswith("A" * 4096)
    assert len(message.encode()) < 4096 + 32 and message.endswith("[truncated]")


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "files/../../outside.txt",
        "/etc/passwd",
        "files/link/outside.txt",
        "files/escape.txt",
        "undeclared.txt",
    ],
)
def test_path_traversal_and_symlink_escape_are_denied(
    host: PluginHost, built: dict[str, Path], tmp_path: Path, path: str
) -> None:
    data = tmp_path / "data"
    (data / "files").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("host secret", encoding="utf-8")
    (data / "files" / "link").symlink_to(tmp_path)
    (data / "files" / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (data / "undeclared.txt").write_text("not declared", encoding="utf-8")
    plugin = load(host, built, "fs-probe", data_dir=data)
    with pytest.raises(PluginError, match="denied") as info:
        plugin.invoke("read", json.dumps({"path": path}))
    assert "host secret" not in str(info.value)
    with pytest.raises(PluginError, match="denied"):
        plugin.invoke("write", json.dumps({"path": path, "text": "pwned"}))
    assert (tmp_path / "outside.txt").read_text(encoding="utf-8") == "host secret"
    denied = plugin.audit.denied()
    assert [e.function for e in denied] == ["read-file", "write-file"]
    assert all(e.error for e in denied)
    still_serves(host, built)


def test_oversized_write_is_refused(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    plugin = load(host, built, "fs-probe", data_dir=data)
    with pytest.raises(PluginError, match="limit is 4,194,304 bytes"):
        plugin.invoke("write-big", '{"path": "files/big.txt"}')
    assert not (data / "files" / "big.txt").exists()
    (entry,) = plugin.audit.denied()
    assert entry.function == "write-file" and "5,242,881 bytes" in entry.params
    assert json.loads(plugin.invoke("write", '{"path": "files/ok.txt", "text": "fine"}'))
    assert (data / "files" / "ok.txt").read_text(encoding="utf-8") == "fine"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("OPENAI_API_KEY", "deny list"),
        ("PATH", "deny list"),
        ("HOME", "deny list"),
        ("GITHUB_TOKEN", "deny list"),
        ("DB_SECRET", "deny list"),
        ("MY_API_KEY", "deny list"),
        ("UNDECLARED_VARIABLE", "not declared"),
    ],
)
def test_secret_environment_reads_are_denied(
    host: PluginHost, built: dict[str, Path], name: str, reason: str
) -> None:
    environment = {
        "PROBE_VISIBLE": "visible",
        "OPENAI_API_KEY": "sk-live-secret",
        "PATH": "/usr/bin",
        "HOME": "/root",
        "GITHUB_TOKEN": "ghp_secret",
        "DB_SECRET": "hunter2",
        "MY_API_KEY": "k",
        "UNDECLARED_VARIABLE": "x",
    }
    plugin = load(host, built, "env-probe", environment=environment)
    assert json.loads(plugin.invoke("get", '{"name": "PROBE_VISIBLE"}')) == {"value": "visible"}
    assert json.loads(plugin.invoke("get", json.dumps({"name": name}))) == {"value": None}
    (entry,) = plugin.audit.denied()
    assert entry.function == "get-env" and reason in (entry.error or "")


def test_host_process_environment_is_not_inherited(
    host: PluginHost, built: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_VISIBLE", "leaked from the host process")
    plugin = load(host, built, "env-probe")
    assert json.loads(plugin.invoke("get", '{"name": "PROBE_VISIBLE"}')) == {"value": None}


def test_permitted_calls_cannot_flush_denied_ones_from_the_audit(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    """Three undeclared get-env calls, then 20,000 declared ones: more than the ring of recent
    entries holds. The device's audit trail still has the three."""
    plugin = load(host, built, "audit-flush")
    assert json.loads(plugin.invoke("flush", "{}")) == {"denied": 3, "permitted": 20000}
    denied = plugin.audit.denied()
    assert [(e.function, e.params) for e in denied] == [("get-env", "UNDECLARED_VARIABLE")] * 3
    counts = plugin.audit.counts()
    assert (counts.calls, counts.denied, counts.denied_dropped) == (20_003, 3, 0)
    assert counts.dropped == 20_003 - len(plugin.audit) > 0
    exported = tmp_path / "audit.jsonl"
    plugin.audit.write_jsonl(exported)
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert [row["permitted"] for row in rows[:4]] == [False, False, False, True]


def test_an_inode_bomb_is_stopped_at_the_data_directory_quota(
    make_host: Callable[..., PluginHost], built: dict[str, Path], tmp_path: Path
) -> None:
    """Empty files cost no bytes; they count as entries. The host's quota stops the bomb and
    the plugin gets the reason; what it made stays within the quota."""
    data = tmp_path / "data"
    data.mkdir()
    host = make_host(data_quota=DataQuota(bytes=1 * MIB, entries=300), durable_writes=False)
    plugin = host.load(component_of(built["inode-bomb"]), data_dir=data)
    with pytest.raises(PluginError, match="holds 300 files and directories, its quota"):
        plugin.invoke("bomb", '{"files": 100000}')
    assert sum(1 for _ in data.rglob("*")) == 300
    # Directories count too, and a refused write makes none of them.
    with pytest.raises(PluginError, match="holds 300 files and directories"):
        plugin.invoke("bomb", '{"files": 0, "dirs": 10}')
    assert sum(1 for _ in data.rglob("*")) == 300
    still_serves(host, built)
