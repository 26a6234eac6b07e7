"""The registry's OpenAPI schema is its contract: it validates as OpenAPI, schemathesis finds
the live server keeping it (every check, with and without a token, stateful phase on), and
``registry/API.md`` names the same operations."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import ROOT, RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed

SCHEMA_PATH = "/schema/openapi.json"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")

# An operation in API.md: "- `METHOD /path` (`operationId`; auth, ...)".
DOCUMENTED = re.compile(
    r"^- `(?P<method>[A-Z]+) (?P<path>/[^`]*)`(?: `[^`]*`)? \(`(?P<id>\w+)`(?P<rest>[^)]*)\)",
    re.MULTILINE,
)


def _seed(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, dest: Path
) -> None:
    """One approved plugin, so the operations that read a version have something to find."""
    with registry.client() as client:
        publish(client, signed(built, "hello", authority, dest))
    registry.verify_queued()


def _schemathesis(
    registry: Registry, report: Path, *headers: str
) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).parent / "st"
    command = [
        str(st),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        registry.url + SCHEMA_PATH,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "5",
        "--seed",
        "20261202",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]
    for header in headers:
        command += ["--header", header]
    # Its cache and reports land in the test's directory, not the checkout.
    report.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report
    )


def _links_covered(output: str) -> int:
    found = re.search(r"API Links:\s+(\d+) covered", output)
    assert found is not None, output[-5_000:]
    return int(found.group(1))


def _operations(schema: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    """operationId → (METHOD, path, needs a token)."""
    return {
        operation["operationId"]: (method.upper(), path, "security" in operation)
        for path, item in schema["paths"].items()
        if not path.startswith("/schema")
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


# The schema is the same whatever stores the registry runs on: read it once.
embedded_only = pytest.mark.parametrize("registry", ["embedded"], indirect=True)


@embedded_only
def test_schema_is_valid_openapi(registry: Registry) -> None:
    schema = httpx.get(registry.url + SCHEMA_PATH).json()
    validate(schema)
    assert set(_operations(schema)) == {
        "publishPlugin",
        "searchPlugins",
        "getPlugin",
        "getLatestVersion",
        "getVersion",
        "getVersionReport",
        "downloadPart",
        "headPart",
        "yankVersion",
        "unyankVersion",
        "getNamespace",
        "createToken",
        "revokeToken",
        "getHealth",
        "getReadiness",
        "getTufMetadata",
        "getTufTarget",
        "requestSigners",
    }


def test_schemathesis_finds_no_failure(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    _seed(registry, built, dev_authority, tmp_path / "src")
    anonymous = _schemathesis(registry, tmp_path / "anonymous")
    assert anonymous.returncode == 0, anonymous.stdout[-20_000:]
    with_token = _schemathesis(
        registry, tmp_path / "token", f"Authorization: Bearer {registry.token}"
    )
    assert with_token.returncode == 0, with_token.stdout[-20_000:]
    # The stateful phase followed links (search -> plugin -> version -> downloads and report,
    # token -> revoke), not only single calls.
    assert _links_covered(with_token.stdout) >= 3, with_token.stdout[-5_000:]


@embedded_only
def test_api_md_documents_the_schema(registry: Registry) -> None:
    """Every operation of the schema is in API.md, with its method, path and operation id, and
    marked ``auth`` exactly when the schema says it needs a token; and nothing more."""
    schema = httpx.get(registry.url + SCHEMA_PATH).json()
    text = (ROOT / "registry" / "API.md").read_text()
    documented = {
        found["id"]: (found["method"], found["path"], "auth" in found["rest"])
        for found in DOCUMENTED.finditer(text)
    }
    assert documented == _operations(schema)


@embedded_only
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/plugins", "GET, OPTIONS, POST"),
        ("/api/v1/plugins/clawft/hello/versions/0.1.0/yank", "DELETE, OPTIONS, POST"),
        ("/api/v1/plugins/clawft/hello/versions/0.1.0/component", "GET, HEAD, OPTIONS"),
        ("/api/v1/tokens/abc", "DELETE, OPTIONS"),
    ],
)
def test_options_lists_every_method_of_the_path(registry: Registry, path: str, allow: str) -> None:
    answer = httpx.options(registry.url + path)
    assert answer.status_code == 204
    assert answer.headers["allow"] == allow
