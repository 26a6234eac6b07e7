"""The registry end to end over real HTTP (uvicorn on 127.0.0.1): publish signed example
plugins with the client, verify them with the real verifier through the registry's own
UploadSource/VerdictSink, pull and run them; hostile and bad input along the way."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import boto3
import httpx
import pytest
import sqlalchemy as sa

from client.host import PluginHost
from client.registry import DownloadRejected, RegistryRequestFailed
from client.signing import sign_plugin
from registry.db import PluginVersion, StatusEvent
from registry.queue import InMemoryQueue, sweep_outbox
from registry.storage import S3BlobStore, blob_key
from tests.conftest import ALICE, RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed


def test_publish_verify_pull_run(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        with registry.jobs_held():
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
        installed = registry.pull(
            "clawft/hello", tmp_path / "plugins", instance=dev_authority.instance
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
        registry.settle_tuf()
        pinned = registry.pull(
            "clawft/hello@0.1.0", tmp_path / "pinned", instance=dev_authority.instance
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
    before = sorted(registry.services.blobs.iter_digests())
    send = dict(send)  # the parameters are shared by both registry kinds
    response = httpx.post(
        f"{registry.url}/api/v1/plugins",
        headers={"authorization": f"Bearer {registry.token}", **send.pop("headers", {})},  # type: ignore[dict-item]
        **send,  # type: ignore[arg-type]
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["detail"]
    assert sorted(registry.services.blobs.iter_digests()) == before
    with registry.services.db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PluginVersion)) == 0


def test_health_and_openapi(registry: Registry) -> None:
    assert httpx.get(f"{registry.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{registry.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "database": "ok",
        "blobs": "ok",
        "broker": "ok",
    }
    if not isinstance(registry.queue, InMemoryQueue):
        return  # switching the broker off is the embedded queue's trick
    registry.queue.down = True
    down = httpx.get(f"{registry.url}/readyz")
    assert down.status_code == 503 and down.json()["checks"]["broker"] != "ok"
    assert "/api/v1/plugins" in httpx.get(f"{registry.url}/schema/openapi.json").json()["paths"]


@pytest.mark.parametrize("registry", ["embedded"], indirect=True)
def test_broker_down_at_publish_loses_nothing(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """The embedded queue switched off (a real broker going down: see test_serve)."""
    assert isinstance(registry.queue, InMemoryQueue)
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    registry.queue.down = True
    with registry.client() as client:
        publish(client, plugin)  # accepted: the job waits in the outbox
    assert registry.queue.sent == []
    registry.queue.down = False
    assert sweep_outbox(registry.services.db, registry.services.queue) == 1
    assert sweep_outbox(registry.services.db, registry.services.queue) == 0  # sent once
    registry.verify_queued()
    with registry.client() as client:
        assert client.version("clawft/hello", "0.1.0").status == "approved"


def test_tampered_blob_is_refused_by_pull(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """A component changed in the store after its verdict (a file of the blob directory, or
    an object of the bucket) is refused by pull, and nothing of it is installed."""
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        detail = client.version("clawft/hello", "0.1.0")
    digest = detail.component.sha256
    store = registry.services.blobs
    if isinstance(store, S3BlobStore):
        settings = store.settings
        s3 = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
        )
        key = settings.prefix + blob_key(digest)
        data = bytearray(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read())
        data[-1] ^= 1
        s3.put_object(Bucket=settings.bucket, Key=key, Body=bytes(data))
    else:
        blob = registry.data_dir / "blobs" / "blobs" / "sha256" / digest
        blob.chmod(0o644)
        data = bytearray(blob.read_bytes())
        data[-1] ^= 1
        blob.write_bytes(bytes(data))
    with pytest.raises(DownloadRejected, match="LengthOrHashMismatchError"):
        registry.pull("clawft/hello", tmp_path / "plugins", instance=dev_authority.instance)
    assert not (tmp_path / "plugins" / "clawft").exists()


def test_object_store_down_at_publish_loses_nothing(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    from registry.storage import InMemoryBlobStore

    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    working = registry.services.blobs
    down = InMemoryBlobStore()
    down.set_unavailable("the test switched the object store off")
    registry.services.blobs = down
    try:
        with registry.client() as client, pytest.raises(RegistryRequestFailed) as info:
            publish(client, plugin)
        assert info.value.status == 503 and info.value.code == "unavailable"
        assert "nothing was changed" in info.value.detail
        ready = httpx.get(f"{registry.url}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["blobs"] != "ok"
    finally:
        registry.services.blobs = working
    with registry.services.db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PluginVersion)) == 0
    with registry.client() as client:
        publish(client, plugin)  # the same version: nothing of the failed attempt remains
        registry.verify_queued()
        assert client.version("clawft/hello", "0.1.0").status == "approved"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("registry", ["production"], indirect=True)
@pytest.mark.worker_env(
    {
        "CLAWFT_VERIFIER_WALL_SECONDS": "10",
        "CLAWFT_TASK_SOFT_TIME_LIMIT_S": "11",
        "CLAWFT_TASK_TIME_LIMIT_S": "12",
        "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S": "14",
        "CLAWFT_BROKER_RESTORE_INTERVAL_S": "1",
        "CLAWFT_TASK_RETRY_BACKOFF_S": "1",
        "CLAWFT_TASK_RETRY_BACKOFF_MAX_S": "2",
    }
)
def test_worker_killed_mid_verification_ends_with_one_verdict(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """A real worker process, killed while it verifies, and a new one (a stack of its own,
    with a short broker visibility timeout)."""
    assert registry.workers is not None
    source = tmp_path / "src" / "slow"
    shutil.copytree(built["slow-loop"], source)
    manifest = source / "clawft-plugin.toml"
    text = manifest.read_text().replace('name = "test/slow-loop"', 'name = "clawft/slow"')
    text += "".join(
        f'\n[[tests]]\ntool = "spin"\ninput = \'{{"round": {n}}}\'\nexpect = "ok"\n'
        for n in range(3)
    )
    manifest.write_text(text)
    sign_plugin(source, instance=dev_authority.instance, identity_token=dev_authority.token())
    with registry.client() as client:
        publish(client, source)
        deadline = time.monotonic() + 60
        while client.version("clawft/slow", "0.1.0").status != "verifying":
            assert time.monotonic() < deadline, "the worker never started verifying"
            time.sleep(0.1)
        time.sleep(1.0)  # inside the verification
        registry.workers.kill()
        assert client.version("clawft/slow", "0.1.0").status == "verifying"
        registry.workers.start()
        registry.verify_queued(timeout_s=120)
        detail = client.version("clawft/slow", "0.1.0")
    assert detail.status == "rejected" and detail.report_summary is not None
    failed = [c for c in detail.report_summary.checks if not c.passed and not c.skipped]
    assert [c.name for c in failed] == ["behaviour"], failed
    assert "test vector 'spin' did not finish" in failed[0].reason
    assert "ran past its timeout of 1 s" in failed[0].reason
    with registry.services.db.session() as session:
        events = session.scalars(
            sa.select(StatusEvent.to_status)
            .join(PluginVersion, StatusEvent.version_id == PluginVersion.id)
            .where(PluginVersion.version == "0.1.0")
            .order_by(StatusEvent.id)
        ).all()
    assert events.count("rejected") == 1  # one verdict, whatever the attempts
    assert events[0] == "pending" and events[-1] == "rejected"


def test_tokens_are_shown_once_scoped_and_revocable(registry: Registry) -> None:
    headers = {"authorization": f"Bearer {registry.token}"}
    created = httpx.post(
        f"{registry.url}/api/v1/tokens",
        headers=headers,
        json={"namespaces": ["clawft"], "expires_in_days": 7, "description": "ci"},
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    with registry.services.db.session() as session:
        from registry.db import ApiToken

        stored = session.scalars(sa.select(ApiToken.secret_hash)).all()
    assert all(token.split("_", 2)[2] not in value for value in stored)  # only a hash is kept
    mine = {"authorization": f"Bearer {token}"}
    foreign = httpx.post(
        f"{registry.url}/api/v1/tokens", headers=headers, json={"namespaces": ["acme"]}
    )
    assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden"
    revoked = httpx.delete(f"{registry.url}/api/v1/tokens/{created.json()['id']}", headers=mine)
    assert revoked.status_code == 204
    again = httpx.post(
        f"{registry.url}/api/v1/tokens", headers=mine, json={"namespaces": ["clawft"]}
    )
    assert again.status_code == 401 and "revoked" in again.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/plugins/clawft/hello/versions/0.1.0", 404),
        ("/api/v1/plugins/..%2F..%2Fetc/passwd/versions/1", 404),
        ("/api/v1/plugins/clawft/hello/versions/0.1.0/secrets", 400),  # not a part: the enum
        ("/api/v1/plugins?per_page=1000", 400),
        ("/api/v1/plugins?page=0", 400),
        ("/api/v1/namespaces/Not_A_Name", 400),
        ("/api/v1/namespaces/nobody", 404),
        ("/api/v1/plugins/clawft/hello/latest", 404),
    ],
)
def test_bad_paths_and_queries_get_json_errors(registry: Registry, path: str, status: int) -> None:
    response = httpx.get(f"{registry.url}{path}")
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["detail"]


def test_expired_token_is_refused(registry: Registry) -> None:
    from datetime import timedelta

    from registry.db import ApiToken
    from registry.db.models import utcnow

    with registry.services.db.session() as session:
        for token in session.scalars(sa.select(ApiToken)):
            token.expires_at = utcnow() - timedelta(seconds=1)
    response = httpx.post(
        f"{registry.url}/api/v1/tokens",
        headers={"authorization": f"Bearer {registry.token}"},
        json={"namespaces": ["clawft"]},
    )
    assert response.status_code == 401 and "expired" in response.json()["detail"]


@pytest.mark.parametrize("registry", ["production"], indirect=True)
def test_s3_downloads_can_redirect_to_presigned_urls(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """Presigned URLs: the S3 store of the production registry."""
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
    store = registry.services.blobs
    assert isinstance(store, S3BlobStore)
    presigning = replace(store.settings, presign_downloads=True)
    registry.services.blobs = S3BlobStore(presigning)
    settings = registry.services.settings
    registry.services.settings = replace(settings, storage=replace(settings.storage, s3=presigning))
    try:
        detail = httpx.get(f"{registry.url}/api/v1/plugins/clawft/hello/versions/0.1.0").json()
        response = httpx.get(registry.url + detail["download"]["component"])
        assert response.status_code == 302
        assert response.headers["location"].startswith(store.settings.endpoint_url or "http")
        assert response.headers["clawft-digest"] == f"sha256={detail['component']['sha256']}"
        # Devices fetch through /tuf/targets (bytes, checked against the signed metadata).
        installed = registry.pull("clawft/hello", tmp_path / "p", instance=dev_authority.instance)
        assert installed.component.exists()
    finally:
        registry.services.blobs = store


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/tokens", b"{not json", 400),
        ("POST", "/api/v1/tokens", b'{"namespaces": "clawft"}', 400),
        ("POST", "/api/v1/tokens", b'{"namespaces": []}', 400),
        ("POST", "/api/v1/tokens", b'{"namespaces": ["clawft"], "expires_in_days": 9999}', 400),
        ("POST", "/api/v1/plugins/clawft/hello/versions/0.1.0/yank", b"[]", 400),
        ("POST", "/api/v1/plugins/clawft/hello/versions/0.1.0/yank", b'{"reason": "x"}', 404),
        ("DELETE", "/api/v1/tokens/not-a-token-id", b"", 404),
    ],
)
def test_bad_input_to_the_json_endpoints(
    registry: Registry, method: str, path: str, body: bytes, status: int
) -> None:
    response = httpx.request(
        method,
        f"{registry.url}{path}",
        content=body,
        headers={
            "authorization": f"Bearer {registry.token}",
            "content-type": "application/json",
        },
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] and response.json()["detail"]
