"""A client generated from the registry's OpenAPI schema (openapi-python-client) publishes,
reads, downloads and reads errors: the schema is complete enough to drive a client that knows
nothing else of the registry. (To generate one for yourself, see the README's "API".)"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, signed

PACKAGE = "clawft_registry_openapi_client"


def generate_client(schema: bytes, dest: Path) -> Path:
    """Generate the client package for ``schema`` under ``dest``; return the package dir."""
    schema_file = dest / "openapi.json"
    schema_file.write_bytes(schema)
    package = dest / PACKAGE
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(schema_file),
            "--output-path",
            str(package),
            "--meta",
            "none",
            "--overwrite",
        ],
        check=True,
        capture_output=True,
        text=True,
        # Its post-generation hook runs ruff, from this environment.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=120,
    )
    return package


@pytest.fixture
def generated(registry: Registry, tmp_path: Path) -> Iterator[ModuleType]:
    schema = httpx.get(registry.url + "/schema/openapi.json").content
    generate_client(schema, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _call(module: str, client: Any, **kwargs: Any) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{module}").sync_detailed(client=client, **kwargs)


@pytest.mark.parametrize("registry", ["embedded"], indirect=True)
def test_generated_client_publishes_downloads_and_reads_errors(
    registry: Registry,
    generated: ModuleType,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    anonymous = generated.Client(base_url=registry.url)
    publisher = generated.AuthenticatedClient(base_url=registry.url, token=registry.token)
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    component = plugin / "hello.wasm"

    def body() -> Any:
        return models.PublishPluginBody(
            manifest=types.File(
                payload=(plugin / "clawft-plugin.toml").open("rb"), file_name="clawft-plugin.toml"
            ),
            component=types.File(payload=component.open("rb"), file_name=component.name),
            bundle=types.File(
                payload=(plugin / "hello.wasm.sigstore.json").open("rb"),
                file_name="hello.wasm.sigstore.json",
            ),
        )

    # An error, as the schema describes it: no token.
    refused = _call("plugins.publish_plugin", anonymous, body=body())
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.ErrorBody)
    assert refused.parsed.error == "unauthorized"

    accepted = _call("plugins.publish_plugin", publisher, body=body())
    assert accepted.status_code == 202, accepted.content
    assert isinstance(accepted.parsed, models.PublishAccepted)
    assert (accepted.parsed.namespace, accepted.parsed.plugin, accepted.parsed.version) == (
        "clawft",
        "hello",
        "0.1.0",
    )
    again = _call("plugins.publish_plugin", publisher, body=body())
    assert again.status_code == 409 and again.parsed.error == "version_exists"

    registry.verify_queued()
    version = _call(
        "plugins.get_version", anonymous, namespace="clawft", name="hello", version="0.1.0"
    )
    assert version.status_code == 200
    assert version.parsed.status == "approved"
    report = _call(
        "plugins.get_version_report", anonymous, namespace="clawft", name="hello", version="0.1.0"
    )
    assert report.parsed.verdict.value == "approved"
    assert {check.name for check in report.parsed.checks} >= {"signature", "behaviour"}

    download = _call(
        "plugins.download_part",
        anonymous,
        namespace="clawft",
        name="hello",
        version="0.1.0",
        part=models.Part.COMPONENT,
    )
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    data = download.parsed.payload.read()
    assert data == component.read_bytes()
    assert download.headers["clawft-digest"] == f"sha256={hashlib.sha256(data).hexdigest()}"
    assert version.parsed.component.sha256 == hashlib.sha256(data).hexdigest()

    missing = _call(
        "plugins.get_version", anonymous, namespace="clawft", name="hello", version="9.9.9"
    )
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody)
    assert missing.parsed.error == "not_found"
