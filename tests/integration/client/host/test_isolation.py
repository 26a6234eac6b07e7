"""Plugins are isolated: own store per call, own sandbox, own audit log and rate counters."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from client.host import FuelExhausted, PluginHost
from tests.conftest import LogRecorder, component_of


def test_rate_counters_and_audit_logs_are_per_plugin(
    host: PluginHost, built: dict[str, Path], log_recorder: LogRecorder
) -> None:
    flood = host.load(component_of(built["log-flood"]))
    hello = host.load(component_of(built["hello"]))
    flood.invoke("flood", "{}")
    assert flood.functions.dropped_logs() > 0
    hello.invoke("greet", '{"name": "after the flood"}')
    assert ("clawft/hello", 2, "greeting after the flood") in log_recorder.lines
    assert hello.functions.dropped_logs() == 0
    assert [e.plugin for e in hello.audit] == ["clawft/hello"]
    assert all(e.plugin == "test/log-flood" for e in flood.audit)


def test_two_loads_of_one_component_share_nothing_but_code(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a = host.load(component_of(built["notes"]), data_dir=a_dir)
    b = host.load(component_of(built["notes"]), data_dir=b_dir)
    a.invoke("save", '{"path": "notes/x.txt", "text": "from a"}')
    assert not (b_dir / "notes" / "x.txt").exists()
    assert len(a.audit) == 1 and len(b.audit) == 0


def test_concurrent_calls_with_one_plugin_looping(host: PluginHost, built: dict[str, Path]) -> None:
    """A plugin burning its fuel on one thread does not stop another plugin's calls."""
    loop = host.load(component_of(built["infinite-loop"]))
    hello = host.load(component_of(built["hello"]))
    errors: list[BaseException] = []

    def spin() -> None:
        try:
            loop.invoke("spin", "{}")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=spin)
    thread.start()
    outputs = [hello.invoke("greet", json.dumps({"name": str(i)})) for i in range(20)]
    thread.join(timeout=30)
    assert [json.loads(o)["greeting"] for o in outputs] == [f"Hello, {i}!" for i in range(20)]
    assert len(errors) == 1 and isinstance(errors[0], FuelExhausted)


@pytest.mark.parametrize(
    ("tool", "payload", "message"),
    [
        ("greet", "not json", "not valid JSON"),
        ("greet", '{"name": "x"', "not valid JSON"),
        ("", "{}", "tool name"),
        ("g" * 500, "{}", "tool name"),
        ("greet", json.dumps({"name": "x" * (2 * 1024 * 1024)}), "larger than"),
        ("greet", "[" * 30_000 + "]" * 30_000, "input nests too deeply"),
        ("greet", '{"a":' * 30_000 + "1" + "}" * 30_000, "input nests too deeply"),
    ],
)
def test_bad_invocations_are_refused_before_the_plugin_runs(
    host: PluginHost, built: dict[str, Path], tool: str, payload: str, message: str
) -> None:
    from client.host import InvalidInput

    hello = host.load(component_of(built["hello"]))
    with pytest.raises(InvalidInput, match=message):
        hello.invoke(tool, payload)
