"""The registry end to end over real HTTP (uvicorn on 127.0.0.1): publish signed example
plugins with the client, verify them with the real verifier through the registry's own
UploadSource/VerdictSink, pull and run them; hostile and bad input along the way."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from client.host import PluginHost
from client.registry import DownloadRejected, RegistryClient, RegistryRequestFailed, pull
from client.signing import sign_plugin
from registry.app import build_services, create_app
from registry.db import Database, PluginVersion, StatusEvent
from registry.db.migrate import upgrade
from registry.db.settings import DatabaseSettings
from registry.domain.plugins.services import sweep_outbox
from registry.domain.publishers.schemas import Signer
from registry.domain.publishers.services import bootstrap_publisher
from registry.queue import CeleryQueue, InMemoryQueue, VerificationQueue
from registry.services import RegistryServices
from registry.settings import RegistrySettings
from registry.storage import create_blob_store
from registry.storage.settings import LocalStoreSettings, StorageSettings
from registry.verification import RegistryUploadSource, RegistryVerdictSink
from tests.conftest import ALICE, RunningAuthority, S3Endpoint
from verifier.settings import VerifierSettings
from verifier.tasks import VerificationServices, run_verification


@dataclass(frozen=True)
class WorkerControl:
    start: Callable[[], None]
    kill: Callable[[], None]
    """SIGKILL the newest worker with everything it started (its process group)."""


@dataclass
class Registry:
    url: str
    token: str
    queue: VerificationQueue
    services: RegistryServices
    verification: VerificationServices
    data_dir: Path
    mode: str
    """``embedded`` (SQLite, local blobs, jobs run here) or ``production`` (PostgreSQL, S3 on
    an HTTP endpoint, a Redis broker and a real `clawft-registry worker` process)."""
    workers: WorkerControl | None
    """Start or kill `clawft-registry worker` processes (production only)."""

    def client(self, *, token: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, token=token if token is not None else self.token)

    def verify_queued(self, timeout_s: float = 90.0) -> None:
        """Wait until every uploaded version has its verdict.

        Embedded: run each job the registry handed to its queue, as a worker would. Production:
        the worker process takes them from the broker; wait for the database to show it.
        """
        if isinstance(self.queue, InMemoryQueue):
            while self.queue.sent:
                run_verification(self.queue.sent.pop(0), self.verification)
            return
        deadline = time.monotonic() + timeout_s
        while True:
            with self.services.db.session() as session:
                waiting = session.scalar(
                    sa.select(sa.func.count()).where(
                        PluginVersion.status.in_(("pending", "verifying"))
                    )
                )
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} version(s) still unverified after {timeout_s} s")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _embedded(data: Path) -> tuple[RegistrySettings, VerificationQueue, list[Any]]:
    settings = RegistrySettings(
        data_dir=data,
        database=DatabaseSettings(url=f"sqlite:///{data / 'registry.sqlite3'}"),
        storage=StorageSettings(backend="local", local=LocalStoreSettings(root=data / "blobs")),
    )
    return settings, InMemoryQueue(), []


def _production(
    request: pytest.FixtureRequest, data: Path, trust: Path, worker_env: dict[str, str]
) -> tuple[RegistrySettings, VerificationQueue, list[Any], WorkerControl]:
    """PostgreSQL, S3 over HTTP, a Redis broker, and a real worker process."""
    cleanups: list[Any] = []
    server_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"e_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    cleanups.append(drop)
    db_url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"clawft-e2e-{uuid.uuid4().hex[:12]}"
    redis_base: str = request.getfixturevalue("redis_url")
    broker = f"{redis_base.rstrip('/')}/7"
    import redis

    with redis.Redis.from_url(broker) as client:
        client.flushdb()
    env = {
        "CLAWFT_DATA_DIR": str(data),
        "CLAWFT_DATABASE_URL": db_url,
        "CLAWFT_STORAGE_BACKEND": "s3",
        "CLAWFT_S3_ENDPOINT_URL": s3.url,
        "CLAWFT_S3_BUCKET": bucket,
        "CLAWFT_S3_ACCESS_KEY_ID": s3.access_key_id,
        "CLAWFT_S3_SECRET_ACCESS_KEY": s3.secret_access_key,
        "CLAWFT_S3_CREATE_BUCKET": "1",
        "CLAWFT_BROKER_URL": broker,
        "CLAWFT_RESULT_BACKEND": broker,
        "CLAWFT_TRUST_CONFIG": str(trust),
        "CLAWFT_VERIFIER_TRUST_CONFIG": str(trust),
    }
    settings = RegistrySettings.from_env(env)
    create_blob_store(settings.storage).check()  # creates the bucket
    db = Database(settings.database)
    upgrade(db.engine)
    db.dispose()
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> None:
        log = (data.parent / f"worker-{len(workers)}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "clawft-registry"),
                    "worker",
                    "--concurrency",
                    "1",
                ],
                env={**os.environ, **env, **worker_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def kill_worker() -> None:
        """SIGKILL the newest worker with everything it started (its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(workers[-1].pid, signal.SIGKILL)
        workers[-1].wait()

    def stop_worker() -> None:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    start_worker()
    cleanups.append(stop_worker)
    return settings, CeleryQueue(broker), cleanups, WorkerControl(start_worker, kill_worker)


# Extra worker settings for tests that need them (by test function name).
WORKER_ENV: dict[str, dict[str, str]] = {
    "test_worker_killed_mid_verification_ends_with_one_verdict": {
        "CLAWFT_VERIFIER_WALL_SECONDS": "10",
        "CLAWFT_TASK_SOFT_TIME_LIMIT_S": "11",
        "CLAWFT_TASK_TIME_LIMIT_S": "12",
        "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S": "14",
        "CLAWFT_BROKER_RESTORE_INTERVAL_S": "1",
        "CLAWFT_TASK_RETRY_BACKOFF_S": "1",
        "CLAWFT_TASK_RETRY_BACKOFF_MAX_S": "2",
    },
}


@pytest.fixture(params=["embedded", "production"])
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, dev_authority: RunningAuthority
) -> Iterator[Registry]:
    data = tmp_path / "registry-data"
    data.mkdir()
    trust = dev_authority.trust_config_path
    cleanups: list[Any] = []
    try:
        if request.param == "embedded":
            settings, queue, cleanups = _embedded(data)
            workers = None
        else:
            worker_env = WORKER_ENV.get(request.node.originalname, {})
            settings, queue, cleanups, workers = _production(request, data, trust, worker_env)
        settings = replace(
            settings, trust_config=trust, verifier=VerifierSettings(trust_config=trust)
        )
        db = Database(settings.database)
        upgrade(db.engine)
        with db.session() as session:
            token = bootstrap_publisher(
                session, "clawft", ["clawft"], [Signer(ALICE, dev_authority.issuer)], days=30
            ).token
        db.dispose()
        services = build_services(settings, queue=queue)
        cleanups.append(services.db.dispose)
        verification = VerificationServices(
            source=RegistryUploadSource(services.db, services.blobs),
            sink=RegistryVerdictSink(services.db),
            settings=settings.verifier,
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

        def stop_server() -> None:
            server.should_exit = True
            thread.join(timeout=10)

        cleanups.append(stop_server)
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the registry did not start")
            time.sleep(0.02)
        yield Registry(
            f"http://127.0.0.1:{port}",
            token,
            queue,
            services,
            verification,
            data,
            request.param,
            workers,
        )
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


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


def test_broker_down_at_publish_loses_nothing(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    if not isinstance(registry.queue, InMemoryQueue):
        pytest.skip("the broker-down case switches off the embedded queue; see test_serve")
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
    if registry.mode != "embedded":
        pytest.skip("tampers with a file of the local blob directory")
    blob = registry.data_dir / "blobs" / "blobs" / "sha256" / detail.component.sha256
    assert blob.exists()
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with registry.client() as client, pytest.raises(DownloadRejected, match="sha256"):
        pull(client, "clawft/hello", tmp_path / "plugins", instance=dev_authority.instance)
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
def test_worker_killed_mid_verification_ends_with_one_verdict(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    """Production only: a real worker process, killed while it verifies, and a new one."""
    if registry.workers is None:
        pytest.skip("needs a worker process to kill; the embedded queue runs jobs in the test")
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
    assert detail.status == "rejected"
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
        ("/api/v1/plugins/clawft/hello/versions/0.1.0/secrets", 404),
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


def test_publish_is_rate_limited(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    from registry.ratelimit import RateLimiter

    registry.services.publish_limiter = RateLimiter(2)
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        with pytest.raises(RegistryRequestFailed, match="409"):
            publish(client, plugin)
        with pytest.raises(RegistryRequestFailed, match="429 rate_limited"):
            publish(client, plugin)


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


def test_s3_downloads_can_redirect_to_presigned_urls(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    if registry.mode != "production":
        pytest.skip("presigned URLs need the S3 store")
    from registry.storage import S3BlobStore

    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
    store = registry.services.blobs
    assert isinstance(store, S3BlobStore)
    registry.services.blobs = S3BlobStore(replace(store.settings, presign_downloads=True))
    registry.services.settings = replace(registry.services.settings, presign_downloads=True)
    try:
        detail = httpx.get(f"{registry.url}/api/v1/plugins/clawft/hello/versions/0.1.0").json()
        response = httpx.get(registry.url + detail["download"]["component"])
        assert response.status_code == 302
        assert response.headers["location"].startswith(store.settings.endpoint_url or "http")
        assert response.headers["clawft-digest"] == f"sha256={detail['component']['sha256']}"
        with registry.client() as client:  # the client follows the redirect and checks the bytes
            installed = pull(
                client, "clawft/hello", tmp_path / "p", instance=dev_authority.instance
            )
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
