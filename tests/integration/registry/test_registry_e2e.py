"""The registry end to end over real HTTP (uvicorn on 127.0.0.1): publish signed example
plugins with the client, verify them with the real verifier through the registry's own
UploadSource/VerdictSink, pull and run them; hostile and bad input along the way."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from client.host import PluginHost
from client.registry import DownloadRejected, RegistryClient, RegistryRequestFailed, pull
from client.signing import sign_plugin
from registry.app import build_services, create_app
from registry.db import Database
from registry.db.migrate import upgrade
from registry.db.settings import DatabaseSettings
from registry.domain.plugins.services import sweep_outbox
from registry.domain.publishers.schemas import Signer
from registry.domain.publishers.services import bootstrap_publisher
from registry.queue import InMemoryQueue
from registry.services import RegistryServices
from registry.settings import RegistrySettings
from registry.storage.settings import LocalStoreSettings, StorageSettings
from registry.verification import RegistryUploadSource, RegistryVerdictSink
from tests.conftest import ALICE, RunningAuthority
from verifier.settings import VerifierSettings
from verifier.tasks import VerificationServices, run_verification


@dataclass
class Registry:
    url: str
    token: str
    queue: InMemoryQueue
    services: RegistryServices
    verification: VerificationServices
    data_dir: Path

    def client(self, *, token: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, token=token if token is not None else self.token)

    def verify_queued(self) -> None:
        """What a worker does: run each job the registry sent to the broker."""
        while self.queue.sent:
            run_verification(self.queue.sent.pop(0), self.verification)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path, dev_authority: RunningAuthority) -> Iterator[Registry]:
    data = tmp_path / "registry-data"
    settings = RegistrySettings(
        data_dir=data,
        database=DatabaseSettings(url=f"sqlite:///{data / 'registry.sqlite3'}"),
        storage=StorageSettings(backend="local", local=LocalStoreSettings(root=data / "blobs")),
        trust_config=dev_authority.trust_config_path,
    )
    db = Database(settings.database)
    upgrade(db.engine)
    with db.session() as session:
        token = bootstrap_publisher(
            session, "clawft", ["clawft"], [Signer(ALICE, dev_authority.issuer)], days=30
        ).token
    db.dispose()
    queue = InMemoryQueue()
    services = build_services(settings, queue=queue)
    verification = VerificationServices(
        source=RegistryUploadSource(services.db, services.blobs),
        sink=RegistryVerdictSink(services.db),
        settings=VerifierSettings(trust_config=dev_authority.trust_config_path),
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services=services),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the registry did not start")
        time.sleep(0.02)
    try:
        yield Registry(f"http://127.0.0.1:{port}", token, queue, services, verification, data)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed(built: dict[str, Path], name: str, authority: RunningAuthority, dest: Path) -> Path:
    plugin = dest / name
    shutil.copytree(built[name], plugin)
    sign_plugin(plugin, instance=authority.instance, identity_token=authority.token())
    return plugin


def publish(client: RegistryClient, plugin: Path) -> None:
    component = next(plugin.glob("*.wasm"))
    client.publish(
        plugin / "clawft-plugin.toml",
        component,
        component.with_name(component.name + ".sigstore.json"),
    )


def test_publish_verify_pull_run(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        pending = client.version("clawft/hello", "0.1.0")
        assert pending.status == "pending" and pending.report_summary is None
        with pytest.raises(RegistryRequestFailed, match="409 not_approved"):
            client.download(
                pending.download.component,
                tmp_path / "x",
                expected_sha256="0" * 64,
                expected_size=1,
            )
        registry.verify_queued()
        approved = client.wait_for_verdict("clawft/hello", "0.1.0", timeout_s=5)
        assert approved.status == "approved", approved.report_summary
        assert approved.report_summary is not None
        assert {c.name for c in approved.report_summary.checks if c.passed} >= {
            "signature",
            "behaviour",
        }
        assert [p.name for p in client.search("hello").items] == ["clawft/hello"]
        installed = pull(
            client, "clawft/hello", tmp_path / "plugins", instance=dev_authority.instance
        )
    assert installed.signer == f"{ALICE} ({dev_authority.issuer})"
    host = PluginHost()
    output = host.load(installed.component).invoke("greet", '{"name": "Oslo"}')
    assert output == '{"greeting":"Hello, Oslo!"}'


def test_hostile_plugin_is_rejected_and_never_served(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    source = tmp_path / "src" / "loop"
    shutil.copytree(built["infinite-loop"], source)
    manifest = source / "clawft-plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('name = "test/infinite-loop"', 'name = "clawft/loop"')
    )
    sign_plugin(source, instance=dev_authority.instance, identity_token=dev_authority.token())
    with registry.client() as client:
        publish(client, source)
        registry.verify_queued()
        detail = client.version("clawft/loop", "0.1.0")
        assert detail.status == "rejected"
        assert detail.report_summary is not None
        failed = [c for c in detail.report_summary.checks if not c.passed and not c.skipped]
        assert failed[0].name == "behaviour" and "fuel" in failed[0].reason
        with pytest.raises(RegistryRequestFailed, match="rejected"):
            client.download(
                detail.download.component,
                tmp_path / "x",
                expected_sha256=detail.component.sha256,
                expected_size=detail.component.size,
            )
        with pytest.raises(RegistryRequestFailed, match="404"):
            client.latest("clawft/loop")


def test_versions_are_immutable_and_namespaces_owned(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        with pytest.raises(RegistryRequestFailed, match="409 version_exists"):
            publish(client, plugin)
    foreign = signed(built, "notes", dev_authority, tmp_path / "src2")
    manifest = foreign / "clawft-plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('name = "clawft/notes"', 'name = "acme/notes"')
    )
    with registry.client() as client, pytest.raises(RegistryRequestFailed, match="403 forbidden"):
        publish(client, foreign)
    with (
        registry.client(token="clawft_0123456789abcdef_wrongsecret") as client,
        pytest.raises(RegistryRequestFailed, match="401 unauthorized"),
    ):
        publish(client, plugin)
    with (
        registry.client(token="") as client,
        pytest.raises(RegistryRequestFailed, match="401 unauthorized"),
    ):
        publish(client, plugin)


def test_yank_and_unyank(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        yanked = client.yank("clawft/hello", "0.1.0", "broken greeting")
        assert yanked.yanked and yanked.yanked_reason == "broken greeting"
        with pytest.raises(RegistryRequestFailed, match="404"):
            client.latest("clawft/hello")
        pinned = pull(
            client, "clawft/hello@0.1.0", tmp_path / "pinned", instance=dev_authority.instance
        )
        assert pinned.yanked
        assert not client.unyank("clawft/hello", "0.1.0").yanked
        assert client.latest("clawft/hello").version == "0.1.0"


def test_download_headers_and_etag(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    url = registry.url + detail.download.component
    first = httpx.get(url)
    assert first.status_code == 200
    assert first.headers["etag"] == f'"{detail.component.sha256}"'
    assert first.headers["clawft-digest"] == f"sha256={detail.component.sha256}"
    assert int(first.headers["content-length"]) == detail.component.size == len(first.content)
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (
            {"content": b"{}", "headers": {"content-type": "application/json"}},
            415,
            "unsupported_media_type",
        ),
        (
            {"files": {"manifest": ("clawft-plugin.toml", b"x", "text/plain")}},
            400,
            "invalid_upload",
        ),
        (
            {
                "files": {
                    "manifest": ("clawft-plugin.toml", b"name = 1", "text/plain"),
                    "component": ("hello.wasm", b"\x00asm", "application/wasm"),
                }
            },
            400,
            "invalid_upload",
        ),
        (
            {
                "files": {
                    "manifest": ("clawft-plugin.toml", b'name = "clawft/big"', "text/plain"),
                    "component": ("hello.wasm", b"\x00" * (400 * 1024), "application/wasm"),
                }
            },
            413,
            "too_large",
        ),
        (
            {
                "content": b"--xx\r\nContent-Disposition: form-data; "
                b'name="manifest"; filename="m"\r\n\r\ntrunc',
                "headers": {"content-type": "multipart/form-data; boundary=xx"},
            },
            400,
            "invalid_upload",
        ),
        (
            {
                "content": b"x" * (3 * 1024 * 1024),
                "headers": {"content-type": "multipart/form-data; boundary=xx"},
            },
            413,
            "too_large",
        ),
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_change_nothing(
    registry: Registry, send: dict[str, object], status: int, code: str
) -> None:
    before = sorted(p.name for p in (registry.data_dir / "blobs").rglob("*") if p.is_file())
    response = httpx.post(
        f"{registry.url}/api/v1/plugins",
        headers={"authorization": f"Bearer {registry.token}", **send.pop("headers", {})},  # type: ignore[dict-item]
        **send,  # type: ignore[arg-type]
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["detail"]
    after = sorted(p.name for p in (registry.data_dir / "blobs").rglob("*") if p.is_file())
    assert after == before
    assert registry.queue.sent == []


def test_health_and_openapi(registry: Registry) -> None:
    assert httpx.get(f"{registry.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{registry.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "database": "ok",
        "blobs": "ok",
        "broker": "ok",
    }
    registry.queue.down = True
    down = httpx.get(f"{registry.url}/readyz")
    assert down.status_code == 503 and down.json()["checks"]["broker"] != "ok"
    assert "/api/v1/plugins" in httpx.get(f"{registry.url}/schema/openapi.json").json()["paths"]


def test_broker_down_at_publish_loses_nothing(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    registry.queue.down = True
    with registry.client() as client:
        publish(client, plugin)  # accepted: the job waits in the outbox
    assert registry.queue.sent == []
    registry.queue.down = False
    assert sweep_outbox(registry.services) == 1
    assert sweep_outbox(registry.services) == 0  # sent once
    registry.verify_queued()
    with registry.client() as client:
        assert client.version("clawft/hello", "0.1.0").status == "approved"


def test_tampered_blob_is_refused_by_pull(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    blob = registry.data_dir / "blobs" / "blobs" / "sha256" / detail.component.sha256
    assert blob.exists()
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with registry.client() as client, pytest.raises(DownloadRejected, match="sha256"):
        pull(client, "clawft/hello", tmp_path / "plugins", instance=dev_authority.instance)
    assert not (tmp_path / "plugins" / "clawft").exists()
