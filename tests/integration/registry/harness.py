"""The registry under test, served over real HTTP (uvicorn on 127.0.0.1), in its two shapes:
embedded (SQLite, local blobs, jobs run in the test) and production (PostgreSQL, S3 over HTTP,
a Redis broker and a real `clawft-registry worker` process). ``registry`` is the fixture."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn

from client.registry import InstalledPlugin, RegistryClient, pull
from client.signing import SigstoreInstance, sign_plugin
from client.sync import pin_root
from registry.app import build_services, create_app
from registry.db import Base, Database, PluginVersion, TufTarget
from registry.db.migrate import upgrade
from registry.db.settings import DatabaseSettings
from registry.domain.publishers.schemas import Signer
from registry.domain.publishers.services import bootstrap_publisher
from registry.queue import CeleryQueue, InMemoryQueue, VerificationQueue, sweep_outbox
from registry.services import RegistryServices
from registry.settings import RegistrySettings
from registry.storage import create_blob_store
from registry.storage.settings import LocalStoreSettings, StorageSettings
from registry.tuf.bootstrap import ensure_embedded_repository
from registry.tuf.tasks import TufServices, run_publish
from registry.verification import RegistryUploadSource, RegistryVerdictSink
from tests.conftest import ALICE, RunningAuthority, S3Endpoint
from verifier.storage import UploadNotFound, UploadUnreadable
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
    tuf: TufServices
    """The TUF repository (created for the test, its keys under ``data_dir/tuf``)."""
    client_trust: Path
    """The trust directory of :meth:`pull`'s client: one per test (the production stack's
    repository is created again for every test, which a client that kept its state would
    rightly refuse as a rollback)."""

    def client(self, *, token: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, token=token if token is not None else self.token)

    def pull(
        self, reference: str, dest: Path, *, instance: SigstoreInstance, **options: Any
    ) -> InstalledPlugin:
        """``pull`` as a client that pinned this registry's first root."""
        trust = self.client_trust
        pin_root(trust, (self.data_dir / "tuf" / "1.root.json").read_bytes())
        return pull(
            reference, dest, trust=trust, instance=instance, registry_url=self.url, **options
        )

    @contextlib.contextmanager
    def jobs_held(self) -> Iterator[None]:
        """Uploads published inside wait in the outbox, as if the broker were down, and go to
        the verifier when the block ends: a test can look at (or change) a version before any
        worker does, although the production worker is always running."""
        queue = self.services.queue
        held = InMemoryQueue()
        held.down = True
        self.services.queue = held
        try:
            yield
        finally:
            self.services.queue = queue
            sweep_outbox(self.services.db, queue)

    def verify_queued(self, timeout_s: float = 90.0) -> None:
        """Wait until every uploaded version has its verdict.

        Embedded: run each job the registry handed to its queue, as a worker would. Production:
        the worker process takes them from the broker; wait for the database to show it.
        """
        if isinstance(self.queue, InMemoryQueue):
            while self.queue.sent:
                # As the Celery task does: these end the task (after any verdict is recorded).
                with contextlib.suppress(UploadUnreadable, UploadNotFound):
                    run_verification(self.queue.sent.pop(0), self.verification)
            self.settle_tuf()
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
                self.settle_tuf(timeout_s=timeout_s)
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} version(s) still unverified after {timeout_s} s")
            time.sleep(0.2)

    def settle_tuf(self, timeout_s: float = 60.0) -> None:
        """Wait until the TUF repository has signed every change (embedded: sign them here, as
        the publish task the registry asked for would)."""
        if isinstance(self.queue, InMemoryQueue):
            if self.queue.publish_requests:
                self.queue.publish_requests = 0
                run_publish(self.tuf)
            return
        deadline = time.monotonic() + timeout_s
        while True:
            with self.services.db.session() as session:
                dirty = session.scalar(
                    sa.select(sa.func.count()).where(
                        TufTarget.dirty,
                        sa.or_(TufTarget.bin.is_(None), TufTarget.bin != "targets"),
                    )
                )
            if not dirty:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{dirty} TUF target(s) still unsigned after {timeout_s} s")
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProductionStack:
    """PostgreSQL, S3 over HTTP, a Redis broker and a real `clawft-registry worker` process.

    One stack serves every production-mode test of the session (its worker started once);
    :meth:`reset` empties the database and the bucket between tests. A test that needs a worker
    of its own (one it kills, or one with other settings) says so with
    ``@pytest.mark.worker_env({...})`` and gets a stack of its own.
    """

    def __init__(
        self,
        request: pytest.FixtureRequest,
        data: Path,
        trust: Path,
        broker_db: int,
        worker_env: dict[str, str],
    ) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self._cleanups: list[Callable[[], None]] = []
        server_url: str = request.getfixturevalue("postgres_url")
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        name = f"e_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        self._cleanups.append(drop)
        db_url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        self.bucket = f"clawft-e2e-{uuid.uuid4().hex[:12]}"
        redis_base: str = request.getfixturevalue("redis_url")
        broker = f"{redis_base.rstrip('/')}/{broker_db}"
        import redis

        with redis.Redis.from_url(broker) as client:
            client.flushdb()
        self.env = {
            "CLAWFT_DATA_DIR": str(data),
            "CLAWFT_DATABASE_URL": db_url,
            "CLAWFT_STORAGE_BACKEND": "s3",
            "CLAWFT_S3_ENDPOINT_URL": s3.url,
            "CLAWFT_S3_BUCKET": self.bucket,
            "CLAWFT_S3_ACCESS_KEY_ID": s3.access_key_id,
            "CLAWFT_S3_SECRET_ACCESS_KEY": s3.secret_access_key,
            "CLAWFT_S3_CREATE_BUCKET": "1",
            "CLAWFT_BROKER_URL": broker,
            "CLAWFT_RESULT_BACKEND": broker,
            "CLAWFT_TRUST_CONFIG": str(trust),
            # The key file the registry fixture creates (ensure_embedded_repository).
            "CLAWFT_TUF_ONLINE_KEY_URI": f"file2:{(data / 'tuf' / 'online.pem').resolve()}",
        }
        self.settings = RegistrySettings.from_env(self.env)
        self.broker = broker
        create_blob_store(self.settings.storage).check()  # creates the bucket
        self.db = Database(self.settings.database)
        self._cleanups.append(self.db.dispose)
        upgrade(self.db.engine)
        self._worker_env = worker_env
        self._workers: list[subprocess.Popen[bytes]] = []
        self._cleanups.append(self._stop_workers)
        self.workers = WorkerControl(self._start_worker, self._kill_worker)
        self._start_worker()

    def _start_worker(self) -> None:
        log = (self.data / f"worker-{len(self._workers)}.log").open("wb")
        self._workers.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "clawft-registry"),
                    "worker",
                    "--concurrency",
                    "1",
                    "--name",  # each worker on this host answers remote control as itself
                    f"worker-{len(self._workers)}@%h",
                ],
                env={**os.environ, **self.env, **self._worker_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def _kill_worker(self) -> None:
        """SIGKILL the newest worker with everything it started (its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._workers[-1].pid, signal.SIGKILL)
        self._workers[-1].wait()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    def reset(self) -> None:
        """Empty every table and the bucket: the next test starts from a fresh registry."""
        tables = [
            table.name
            for table in reversed(Base.metadata.sorted_tables)
            if table.name != "tuf_publish_lock"  # one row, kept
        ]
        # The worker may still be finishing the last test's work (a TUF publish after an
        # approval): PostgreSQL then picks one side of the lock cycle to abort. Ours retries,
        # once the worker's transaction is over.
        for attempt in range(10):
            try:
                with self.db.engine.begin() as connection:
                    connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
                break
            except sa.exc.OperationalError as exc:
                if "deadlock" not in str(exc) or attempt == 9:
                    raise
                time.sleep(0.2)
        blobs = create_blob_store(self.settings.storage)
        for digest in list(blobs.iter_digests()):
            blobs.delete(digest)

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            cleanup()


@pytest.fixture(scope="session")
def production_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dev_authority: RunningAuthority,
) -> Iterator[ProductionStack]:
    """The production stack the session's production-mode registry tests share."""
    stack = ProductionStack(
        request,
        tmp_path_factory.mktemp("production-registry"),
        dev_authority.trust_config_path,
        broker_db=7,
        worker_env={},
    )
    try:
        yield stack
    finally:
        stack.close()


def embedded_shape(data: Path) -> tuple[RegistrySettings, VerificationQueue]:
    """The embedded registry's settings (SQLite, local blobs) over a new ``data`` directory,
    migrated, and a queue whose jobs the test runs."""
    data.mkdir()
    settings = RegistrySettings(
        data_dir=data,
        database=DatabaseSettings(url=f"sqlite:///{data / 'registry.sqlite3'}"),
        storage=StorageSettings(backend="local", local=LocalStoreSettings(root=data / "blobs")),
    )
    db = Database(settings.database)
    upgrade(db.engine)
    db.dispose()
    return settings, InMemoryQueue()


def _serve(app: Any, cleanups: list[Callable[[], None]]) -> str:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; return its URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
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
    return f"http://127.0.0.1:{port}"


@pytest.fixture(params=["embedded", "production"])
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, dev_authority: RunningAuthority
) -> Iterator[Registry]:
    """The registry over HTTP: ``embedded`` (SQLite, local blobs, jobs run in the test), or
    ``production`` (see :class:`ProductionStack`)."""
    trust = dev_authority.trust_config_path
    cleanups: list[Callable[[], None]] = []
    try:
        workers: WorkerControl | None = None
        if request.param == "embedded":
            data = tmp_path / "registry-data"
            settings, queue = embedded_shape(data)
        else:
            marker = request.node.get_closest_marker("worker_env")
            if marker is None:
                stack: ProductionStack = request.getfixturevalue("production_stack")
            else:
                stack = ProductionStack(
                    request,
                    tmp_path / "registry-data",
                    trust,
                    broker_db=8,
                    worker_env=marker.args[0],
                )
                cleanups.append(stack.close)
            cleanups.append(stack.reset)
            data, settings, queue = stack.data, stack.settings, CeleryQueue(stack.broker)
            workers = stack.workers
        yield serve_registry(
            settings,
            queue,
            dev_authority,
            cleanups,
            data=data,
            mode=request.param,
            workers=workers,
            client_trust=tmp_path / "client-trust",
        )
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def serve_registry(
    settings: RegistrySettings,
    queue: VerificationQueue,
    dev_authority: RunningAuthority,
    cleanups: list[Callable[[], None]],
    *,
    data: Path,
    mode: str,
    workers: WorkerControl | None,
    client_trust: Path,
) -> Registry:
    """Serve the registry ``settings`` describe over HTTP, with the publisher ``clawft`` (its
    signer ALICE of ``dev_authority``) and its TUF repository; what it starts is stopped by
    ``cleanups``."""
    settings = settings.with_trust_config(dev_authority.trust_config_path)
    services = build_services(settings, queue=queue)
    cleanups.append(services.db.dispose)
    with services.db.session() as session:
        token = bootstrap_publisher(
            session, "clawft", ["clawft"], [Signer(ALICE, dev_authority.issuer)], days=30
        ).token
    tuf = TufServices(services.db, ensure_embedded_repository(settings, services.db), settings.tuf)
    verification = VerificationServices(
        source=RegistryUploadSource(services.db, services.blobs),
        sink=RegistryVerdictSink(services.db, on_approved=queue.request_publish),
        settings=settings.worker.verifier,
    )
    url = _serve(create_app(settings, services=services), cleanups)
    return Registry(
        url, token, queue, services, verification, data, mode, workers, tuf, client_trust
    )


def signed(built: dict[str, Path], name: str, authority: RunningAuthority, dest: Path) -> Path:
    plugin = dest / name
    shutil.copytree(built[name], plugin)
    sign_plugin(plugin, instance=authority.instance, identity_token=authority.token())
    return plugin


def approved_hello(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, dest: Path
) -> dict[str, bytes]:
    """Publish the ``hello`` example (0.1.0) and verify it: its approved files, by part."""
    plugin = signed(built, "hello", authority, dest)
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
    return {
        "component": (plugin / "hello.wasm").read_bytes(),
        "manifest": (plugin / "clawft-plugin.toml").read_bytes(),
        "bundle": (plugin / "hello.wasm.sigstore.json").read_bytes(),
    }


def publish(client: RegistryClient, plugin: Path) -> None:
    component = next(plugin.glob("*.wasm"))
    client.publish(
        plugin / "clawft-plugin.toml",
        component,
        component.with_name(component.name + ".sigstore.json"),
    )


def variant(
    built: dict[str, Path],
    authority: RunningAuthority,
    dest: Path,
    *,
    version: str = "0.1.0",
    description: str | None = None,
    extra: str = "",
) -> Path:
    """The hello example as another version (and description), with ``extra`` manifest text,
    signed by the authority."""
    plugin = dest / f"hello-{version}-{abs(hash((description, extra))) % 10**8}"
    shutil.copytree(built["hello"], plugin)
    manifest = plugin / "clawft-plugin.toml"
    text = manifest.read_text(encoding="utf-8").replace(
        'version = "0.1.0"', f'version = "{version}"'
    )
    if description is not None:
        old = next(line for line in text.splitlines() if line.startswith("description = "))
        text = text.replace(old, f"description = {description}")
    manifest.write_text(text + extra, encoding="utf-8")
    sign_plugin(plugin, instance=authority.instance, identity_token=authority.token())
    return plugin
