"""Exported functions called with their types looked up once: the same answers, traps and
errors as wasmtime-py's own ``Func.__call__``, which is also the fallback."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from client.host import PluginHost
from client.host import calls as calls_module
from client.host.errors import FuelExhausted, PluginError
from tests.conftest import component_of


@pytest.mark.parametrize("prepared", [True, False], ids=["types-once", "wasmtime-py-call"])
def test_answers_and_errors_are_the_same_either_way(
    built: dict[str, Path], prepared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls_module, "_PREPARED", prepared and calls_module._PREPARED)
    plugin = PluginHost().load(component_of(built["hello"]))
    assert json.loads(plugin.describe())[0]["name"] == "greet"
    for name in ("Oslo", "Zoë", "x" * 10_000):
        assert json.loads(plugin.invoke("greet", json.dumps({"name": name}))) == {
            "greeting": f"Hello, {name}!"
        }
    with pytest.raises(PluginError, match="greet needs"):
        plugin.invoke("greet", '{"city": "Oslo"}')


def test_a_trap_through_a_prepared_call_is_classified(built: dict[str, Path]) -> None:
    plugin = PluginHost().load(component_of(built["infinite-loop"]))
    tool = json.loads(plugin.describe())[0]["name"]
    with pytest.raises(FuelExhausted):
        plugin.invoke(tool, "{}")
    # The plugin is still usable: every call has its own store.
    assert json.loads(plugin.describe())


def test_the_types_are_looked_up_once_across_threads(built: dict[str, Path]) -> None:
    plugin = PluginHost().load(component_of(built["hello"]))
    with ThreadPoolExecutor(8) as pool:
        outputs = list(
            pool.map(lambda n: plugin.invoke("greet", json.dumps({"name": str(n)})), range(64))
        )
    assert outputs == [
        json.dumps({"greeting": f"Hello, {n}!"}, separators=(",", ":")) for n in range(64)
    ]
