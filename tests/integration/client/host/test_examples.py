"""The example plugins run in the sandbox: hello, notes, fetch."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from client.host import HostSettings, HttpPolicy, PluginError, PluginHost
from tests.conftest import LogRecorder, component_of, with_manifest
from tests.integration.client.host.conftest import LocalServer


def test_hello_greets_and_logs(
    host: PluginHost, built: dict[str, Path], log_recorder: LogRecorder
) -> None:
    plugin = host.load(component_of(built["hello"]))
    assert json.loads(plugin.invoke("greet", '{"name": "Oslo"}')) == {"greeting": "Hello, Oslo!"}
    assert log_recorder.lines == [("clawft/hello", 2, "greeting Oslo")]
    (entry,) = plugin.audit.entries()
    assert entry.function == "log" and entry.permitted


def test_hello_describes_its_tools(host: PluginHost, built: dict[str, Path]) -> None:
    tools = json.loads(host.load(component_of(built["hello"])).describe())
    assert isinstance(tools, list) and tools[0]["name"] == "greet"
    assert {"name", "description", "input_schema"} <= set(tools[0])


def test_hello_errors_are_plugin_errors(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = host.load(component_of(built["hello"]))
    with pytest.raises(PluginError, match='needs a string field "name"'):
        plugin.invoke("greet", "{}")
    with pytest.raises(PluginError, match="unknown tool: shout"):
        plugin.invoke("shout", "{}")


def test_each_call_gets_a_fresh_store(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = host.load(component_of(built["hello"]))
    first = plugin.call("greet", '{"name": "A"}')
    for _ in range(50):
        again = plugin.call("greet", '{"name": "A"}')
    assert again.output == first.output
    # A leaking store would carry the bump allocator (and fuel spent) from call to call.
    assert again.fuel_used == first.fuel_used


def test_notes_saves_and_loads_in_its_data_dir(
    host: PluginHost, built: dict[str, Path], tmp_path: Path
) -> None:
    data = tmp_path / "notes-data"
    data.mkdir()
    plugin = host.load(component_of(built["notes"]), data_dir=data)
    text = 'buy "milk"\nand bread ✓'
    saved = plugin.invoke("save", json.dumps({"path": "notes/today.txt", "text": text}))
    assert json.loads(saved) == {"saved": "notes/today.txt"}
    assert (data / "notes" / "today.txt").read_text(encoding="utf-8") == text
    assert json.loads(plugin.invoke("load", '{"path": "notes/today.txt"}')) == {"text": text}
    with pytest.raises(PluginError, match="denied"):
        plugin.invoke("load", '{"path": "../../etc/passwd"}')
    denied = plugin.audit.denied()
    assert denied and denied[-1].function == "read-file"


def _fetch_with_loopback(
    make_host: Callable[..., PluginHost], built: dict[str, Path], tmp_path: Path, port: int
) -> tuple[PluginHost, Path]:
    """The fetch plugin, allowed to reach ``port`` of 127.0.0.1, on a host whose operator
    opened 127/8."""
    component = with_manifest(
        built["fetch"],
        tmp_path / "fetch",
        permissions={"network": [f"127.0.0.1:{port}", f"localhost:{port}"]},
    )
    host = make_host(
        http=HttpPolicy(allowed_private_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    )
    return host, component


def test_fetch_reaches_an_operator_allowed_server(
    make_host: Callable[..., PluginHost],
    built: dict[str, Path],
    tmp_path: Path,
    local_server: LocalServer,
) -> None:
    host, component = _fetch_with_loopback(make_host, built, tmp_path, local_server.port)
    plugin = host.load(component)
    out = plugin.invoke("get", json.dumps({"url": local_server.url("/hello")}))
    assert json.loads(out) == {"body": "hi from the loopback server"}
    posted = plugin.invoke("post", json.dumps({"url": local_server.url("/echo"), "body": "ping"}))
    assert json.loads(posted) == {"body": "got ping"}
    with pytest.raises(PluginError, match="HTTP 404"):
        plugin.invoke("get", json.dumps({"url": local_server.url("/missing")}))
    assert local_server.hits == ["/hello", "/echo", "/missing"]
    assert [e.permitted for e in plugin.audit.entries(function="http-request")] == [True] * 3


def test_settings_default_blocks_the_same_server(
    host: PluginHost, built: dict[str, Path], local_server: LocalServer, tmp_path: Path
) -> None:
    assert isinstance(host.settings, HostSettings)
    plugin = host.load(component_of(built["ssrf-probe"]))
    with pytest.raises(PluginError, match="denied"):
        plugin.invoke("get", json.dumps({"url": local_server.url("/hello")}))
    assert local_server.hits == []
