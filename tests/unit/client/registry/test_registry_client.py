"""The registry client against an in-memory simulation of the registry's HTTP API.

The client is the thing under test; ``httpx.MockTransport`` is its transport seam. The real
server is exercised end to end by the registry's own tests.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from client.registry import (
    DownloadRejected,
    RegistryClient,
    RegistryRequestFailed,
    RegistryUnreachable,
    load_client_config,
    parse_reference,
    pull,
)
from client.signing import SigstoreInstance, sign_plugin
from tests.conftest import ALICE, RunningAuthority, component_of

Handler = Callable[[httpx.Request], httpx.Response]


class FakeRegistry:
    """Serves one approved plugin version the way registry/API.md describes."""

    def __init__(self, plugin_dir: Path, *, signers: list[dict[str, str]]) -> None:
        self.files = {
            "manifest": (plugin_dir / "clawft-plugin.toml").read_bytes(),
            "component": component_of(plugin_dir).read_bytes(),
        }
        bundle = plugin_dir / f"{component_of(plugin_dir).name}.sigstore.json"
        if bundle.exists():
            self.files["bundle"] = bundle.read_bytes()
        self.component_name = component_of(plugin_dir).name
        self.signers = signers
        self.tamper: dict[str, bytes] = {}
        self.requests: list[str] = []

    def record(self, part: str) -> dict[str, object] | None:
        data = self.files.get(part)
        if data is None:
            return None
        out: dict[str, object] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        if part == "component":
            out["filename"] = self.component_name
        return out

    def detail(self) -> dict[str, object]:
        base = "/api/v1/plugins/clawft/hello/versions/0.1.0"
        return {
            "name": "clawft/hello",
            "version": "0.1.0",
            "status": "approved",
            "yanked": False,
            "created_at": "2026-11-24T00:00:00Z",
            "component": self.record("component"),
            "manifest": self.record("manifest"),
            "bundle": self.record("bundle"),
            "download": {
                "component": f"{base}/component",
                "manifest": f"{base}/manifest",
                "bundle": f"{base}/bundle" if "bundle" in self.files else None,
            },
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if path in (
            "/api/v1/plugins/clawft/hello/latest",
            "/api/v1/plugins/clawft/hello/versions/0.1.0",
        ):
            return httpx.Response(200, json=self.detail())
        if path == "/api/v1/namespaces/clawft":
            return httpx.Response(
                200,
                json={
                    "name": "clawft",
                    "owner": "clawft",
                    "trusted_signers": self.signers,
                    "plugins": [],
                },
            )
        for part in ("component", "manifest", "bundle"):
            if path.endswith(f"/versions/0.1.0/{part}") and part in self.files:
                return httpx.Response(200, content=self.tamper.get(part, self.files[part]))
        return httpx.Response(404, json={"error": "not_found", "detail": f"no {path}"})


@pytest.fixture
def signed_hello(built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path) -> Path:
    plugin = tmp_path / "src" / "hello"
    shutil.copytree(built["hello"], plugin)
    sign_plugin(plugin, instance=dev_authority.instance, identity_token=dev_authority.token())
    return plugin


def client_for(handler: Handler) -> RegistryClient:
    return RegistryClient("http://registry.test", transport=httpx.MockTransport(handler))


def test_pull_installs_a_verified_plugin(
    signed_hello: Path, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    fake = FakeRegistry(signed_hello, signers=[{"identity": ALICE, "issuer": dev_authority.issuer}])
    installed = pull(
        client_for(fake), "clawft/hello", tmp_path / "plugins", instance=dev_authority.instance
    )
    assert installed.directory == tmp_path / "plugins" / "clawft" / "hello" / "0.1.0"
    assert installed.component.read_bytes() == fake.files["component"]
    assert installed.signer == f"{ALICE} ({dev_authority.issuer})"
    assert sorted(p.name for p in installed.directory.iterdir()) == [
        "clawft-plugin.toml",
        "hello.wasm",
        "hello.wasm.sigstore.json",
    ]


@pytest.mark.parametrize(
    ("part", "reason"),
    [("component", "sha256"), ("manifest", "sha256"), ("component", "more than")],
)
def test_tampered_download_leaves_nothing_installed(
    signed_hello: Path, dev_authority: RunningAuthority, tmp_path: Path, part: str, reason: str
) -> None:
    fake = FakeRegistry(signed_hello, signers=[{"identity": ALICE, "issuer": dev_authority.issuer}])
    original = fake.files[part]
    if reason == "more than":
        fake.tamper[part] = original + b"extra"
    else:
        fake.tamper[part] = bytes([original[0] ^ 1]) + original[1:]
    dest = tmp_path / "plugins"
    with pytest.raises(DownloadRejected, match=reason):
        pull(client_for(fake), "clawft/hello@0.1.0", dest, instance=dev_authority.instance)
    assert not any(dest.rglob("*.wasm")) and not any(dest.rglob(".*partial*"))


def test_untrusted_signer_leaves_nothing_installed(
    signed_hello: Path, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    fake = FakeRegistry(
        signed_hello, signers=[{"identity": "mallory@example.com", "issuer": dev_authority.issuer}]
    )
    dest = tmp_path / "plugins"
    with pytest.raises(DownloadRejected, match="signature does not verify"):
        pull(client_for(fake), "clawft/hello", dest, instance=dev_authority.instance)
    assert not any(dest.rglob("*"))


def test_unsigned_plugin_needs_explicit_consent(built: dict[str, Path], tmp_path: Path) -> None:
    fake = FakeRegistry(built["hello"], signers=[])
    with pytest.raises(DownloadRejected, match="--allow-unsigned"):
        pull(client_for(fake), "clawft/hello", tmp_path / "a", instance=SigstoreInstance.staging())
    installed = pull(
        client_for(fake),
        "clawft/hello",
        tmp_path / "b",
        instance=SigstoreInstance.staging(),
        allow_unsigned=True,
    )
    assert installed.signer is None and installed.component.exists()


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
