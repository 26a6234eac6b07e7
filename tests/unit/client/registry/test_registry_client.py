"""The registry client against an in-memory simulation of the registry's HTTP API.

The client is the thing under test; ``httpx.MockTransport`` is its transport seam. The real
server is exercised end to end by the registry's own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from client.registry import (
    RegistryClient,
    RegistryRequestFailed,
    RegistryUnreachable,
    load_client_config,
    parse_reference,
)
from tests.conftest import component_of

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> RegistryClient:
    return RegistryClient("http://registry.test", transport=httpx.MockTransport(handler))


def test_errors_are_translated() -> None:
    def refuse(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": "not_approved", "detail": "still pending"})

    with pytest.raises(RegistryRequestFailed, match="409 not_approved") as info:
        client_for(refuse).version("clawft/hello", "0.1.0")
    assert info.value.code == "not_approved"

    def broken(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(RegistryUnreachable, match="cannot reach"):
        client_for(broken).search("x")

    def garbage(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>not json</html>")

    with pytest.raises(RegistryRequestFailed, match="malformed"):
        client_for(garbage).search("x")


def test_publish_sends_the_three_parts(built: dict[str, Path], tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def accept(request: httpx.Request) -> httpx.Response:
        body = request.read()
        seen["type"] = request.headers["content-type"]
        seen["length"] = int(request.headers["content-length"])
        seen["body"] = body
        return httpx.Response(
            202,
            json={
                "name": "clawft/hello",
                "version": "0.1.0",
                "status": "pending",
                "status_url": "/x",
            },
        )

    progress: list[tuple[int, int]] = []
    accepted = client_for(accept).publish(
        built["hello"] / "clawft-plugin.toml",
        component_of(built["hello"]),
        None,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert accepted.status == "pending"
    assert str(seen["type"]).startswith("multipart/form-data; boundary=")
    body = seen["body"]
    assert isinstance(body, bytes) and len(body) == seen["length"]
    assert b'name="manifest"; filename="clawft-plugin.toml"' in body
    assert b'name="component"; filename="hello.wasm"' in body
    assert progress and progress[-1][0] == progress[-1][1] == seen["length"]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("acme/hello", ("acme/hello", None)), ("acme/hello@1.2.0", ("acme/hello", "1.2.0"))],
)
def test_references(reference: str, expected: tuple[str, str | None]) -> None:
    assert parse_reference(reference) == expected


@pytest.mark.parametrize(
    "reference",
    ["hello", "acme/hello@", "a/b/c", "/hello", "acme/hello\n", "acme/hello@1.2.0\n"],
)
def test_bad_references(reference: str) -> None:
    """A trailing newline too ("$" alone would let it through)."""
    with pytest.raises(ValueError, match=r"namespace/name|version after @|semantic version"):
        parse_reference(reference)


def test_config_precedence(tmp_path: Path) -> None:
    config = tmp_path / "clawft-registry" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        '[registry]\nurl = "https://from-file.example"\ntoken = "t-file"\n', encoding="utf-8"
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_client_config(environ=env).url == "https://from-file.example"
    env["CLAWFT_REGISTRY_URL"] = "https://from-env.example/"
    assert load_client_config(environ=env).url == "https://from-env.example"
    assert load_client_config(url="http://flag.example", environ=env).url == "http://flag.example"
    assert load_client_config(environ=env).token == "t-file"
    with pytest.raises(ValueError, match="must start with http"):
        load_client_config(url="ftp://x", environ=env)
    config.write_text("[registry\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        load_client_config(environ={"XDG_CONFIG_HOME": str(tmp_path)})
