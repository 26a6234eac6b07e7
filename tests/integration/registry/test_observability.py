"""Observability of a running registry, over HTTP: ``/metrics`` counts what was done (in the
production shape, the worker process's verdicts too), request ids follow an upload into its
verification task, JSON logs parse, and ``/readyz`` names what is down.

The test session runs in Prometheus multi-process mode (``tests/conftest.py`` sets
``PROMETHEUS_MULTIPROC_DIR`` for it and every process it starts), as a deployment does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client.manifest import MANIFEST_FILE_NAME, load_manifest
from client.registry import RegistryClient, RegistryRequestFailed
from client.signing import sign_plugin
from registry import metrics
from registry.logs import sane_request_id
from registry.queue import CeleryQueue
from registry.storage import create_blob_store
from registry.storage.settings import S3Settings, StorageSettings
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import (
    ProductionStack,
    Registry,
    publish,
    serve_registry,
    signed,
)

pytestmark = pytest.mark.network

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
GENERATED = re.compile(r"[0-9a-f]{32}")


def scrape(registry: Registry) -> Series:
    response = httpx.get(f"{registry.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parsed(response.text)


def parsed(text: str) -> Series:
    """Every sample of a Prometheus text exposition, by name and labels."""
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return series


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def total(series: Series, name: str) -> float:
    return sum(v for (n, _), v in series.items() if n == name)


def renamed(built: dict[str, Path], name: str, authority: RunningAuthority, dest: Path) -> Path:
    """The hello example published as ``clawft/<name>``, signed."""
    plugin = dest / name
    shutil.copytree(built["hello"], plugin)
    manifest = load_manifest(plugin / MANIFEST_FILE_NAME)
    (plugin / MANIFEST_FILE_NAME).write_bytes(
        msgspec.toml.encode(msgspec.structs.replace(manifest, name=f"clawft/{name}"))
    )
    sign_plugin(plugin, instance=authority.instance, identity_token=authority.token())
    return plugin


class _RefusingLimiter:
    """A publish limiter that is always out of allowance."""

    def acquire(self, key: str) -> float | None:
        return 30.0


def test_metrics_count_what_was_done(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    before = scrape(registry)
    client = registry.client()
    plugin = signed(built, "hello", dev_authority, tmp_path)
    publish(client, plugin)
    registry.verify_queued()
    url = f"{registry.url}/api/v1/plugins/clawft/hello/versions/0.1.0/component"
    bodies = [httpx.get(url, timeout=10) for _ in range(2)]
    assert [b.status_code for b in bodies] == [200, 200]
    size = len(bodies[0].content)
    assert size == len(next(plugin.glob("*.wasm")).read_bytes())
    digest = hashlib.sha256(bodies[0].content).hexdigest()
    by_digest = httpx.get(f"{registry.url}/blobs/sha256/{digest}", timeout=10)
    assert by_digest.status_code == 200 and by_digest.content == bodies[0].content
    assert httpx.get(f"{registry.url}/blobs/sha256/{'0' * 64}").status_code == 404
    with pytest.raises(RegistryRequestFailed, match="version_exists"):
        publish(client, plugin)  # refused: versions are immutable
    limiter = registry.services.publish_limiter
    registry.services.publish_limiter = _RefusingLimiter()  # type: ignore[assignment]
    try:
        again = signed(built, "notes", dev_authority, tmp_path)
        with pytest.raises(RegistryRequestFailed, match="rate_limited"):
            publish(client, again)
    finally:
        registry.services.publish_limiter = limiter
    after = scrape(registry)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("clawft_uploads_total", outcome="accepted", reason="") == 1
    assert delta("clawft_uploads_total", outcome="refused", reason="version_exists") == 1
    assert delta("clawft_uploads_total", outcome="refused", reason="rate_limited") == 1
    assert delta("clawft_verdicts_total", verdict="approved", check="") == 1
    assert total(after, "clawft_verdicts_total") - total(before, "clawft_verdicts_total") == 1
    assert delta("clawft_verification_latency_seconds_count") == 1
    assert delta("clawft_downloads_total", kind="component", status="200") == 2
    assert delta("clawft_download_bytes_total", kind="component") == 2 * size
    assert delta("clawft_downloads_total", kind="blob", status="200") == 1
    assert delta("clawft_downloads_total", kind="blob", status="404") == 1
    assert delta("clawft_download_bytes_total", kind="blob") == size
    assert delta("clawft_rate_limited_total", route="/api/v1/plugins") == 1
    assert delta("clawft_tuf_sign_seconds_count", task="publish") >= 1
    assert value(after, "clawft_verification_queue_depth", state="queued") == 0
    assert value(after, "clawft_verification_queue_depth", state="sent") == 0


def test_metrics_label_values_are_bounded_and_hold_no_secrets(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    client = registry.client()
    publish(client, renamed(built, "warmup", dev_authority, tmp_path))
    registry.verify_queued()
    httpx.get(f"{registry.url}/api/v1/plugins/clawft/warmup/versions/0.1.0/component")
    before = scrape(registry)
    names = [f"cardinality{i}" for i in range(3)]
    for name in names:
        publish(client, renamed(built, name, dev_authority, tmp_path))
    registry.verify_queued()
    for name in names:
        url = f"{registry.url}/api/v1/plugins/clawft/{name}/versions/0.1.0/component"
        assert httpx.get(url, headers={"X-Request-Id": name}).status_code == 200
    response = httpx.get(f"{registry.url}/metrics", timeout=10)
    after = scrape(registry)
    assert set(after) == set(before), "new series appeared: " + repr(set(after) - set(before))
    assert value(after, "clawft_uploads_total", outcome="accepted", reason="") - value(
        before, "clawft_uploads_total", outcome="accepted", reason=""
    ) == len(names)
    for secret in (registry.token, *names, "warmup"):
        assert secret not in response.text


def _increment_in_another_process(directory: str) -> None:
    code = (
        "from registry import metrics\n"
        "assert metrics.MULTIPROC_DIR is not None\n"
        "metrics.VERDICTS.labels(verdict='rejected', check='verifier').inc()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory},
        check=True,
        timeout=60,
    )


def test_metrics_add_up_every_process(registry: Registry) -> None:
    directory = metrics.MULTIPROC_DIR
    assert directory is not None, "the test session runs in multi-process mode"
    before = scrape(registry)
    _increment_in_another_process(directory)
    _increment_in_another_process(directory)
    metrics.VERDICTS.labels(verdict="rejected", check="verifier").inc()  # this process
    after = scrape(registry)
    labels = {"verdict": "rejected", "check": "verifier"}
    assert (
        value(after, "clawft_verdicts_total", **labels)
        - value(before, "clawft_verdicts_total", **labels)
        == 3
    )


# ----------------------------------------------------------------------------- request ids


def test_request_id_is_echoed_and_a_hostile_one_replaced(registry: Registry) -> None:
    answer = httpx.get(f"{registry.url}/healthz", headers={"X-Request-Id": "abc-123.x_Y"})
    assert answer.headers["x-request-id"] == "abc-123.x_Y"
    generated = httpx.get(f"{registry.url}/readyz").headers["x-request-id"]
    assert GENERATED.fullmatch(generated)
    unrouted = httpx.get(f"{registry.url}/no/such/route", headers={"X-Request-Id": "r-404"})
    assert unrouted.status_code == 404 and unrouted.headers["x-request-id"] == "r-404"
    hostile: list[str | bytes] = [
        "a" * 10_000,
        "a" * 65,
        "<script>alert(1)</script>",
        "héllo".encode(),
        "a b",
        "",
    ]
    for given in hostile:
        echoed = httpx.get(f"{registry.url}/healthz", headers={"X-Request-Id": given})
        assert echoed.status_code == 200
        assert GENERATED.fullmatch(echoed.headers["x-request-id"]), given
    assert sane_request_id("evil\r\nSet-Cookie: x=1") is None
    # A CR LF cannot be sent inside a header value; folded onto a second line, it is either
    # refused by the server or replaced.
    host, port = registry.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: evil\r\n Set-Cookie: a=1\r\n"
            b"Connection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert "set-cookie" not in head.lower()
    if head.startswith("HTTP/1.1 200"):
        (line,) = [h for h in head.split("\r\n") if h.lower().startswith("x-request-id:")]
        assert GENERATED.fullmatch(line.split(":", 1)[1].strip())


class _WithRequestId(httpx.HTTPTransport):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["X-Request-Id"] = self.request_id
        return super().handle_request(request)


def _log_lines(path: Path) -> Iterator[dict[str, object]]:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            yield json.loads(line)  # every JSON line parses


@pytest.mark.worker_env({"CLAWFT_LOG_FORMAT": "json"})
@pytest.mark.parametrize("registry", ["production"], indirect=True)
def test_the_upload_request_id_follows_it_into_the_verification_task(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    request_id = "publish-7f3a.trace_1"
    client = RegistryClient(
        registry.url, token=registry.token, transport=_WithRequestId(request_id)
    )
    publish(client, signed(built, "hello", dev_authority, tmp_path))
    registry.verify_queued()
    log = registry.data_dir / "worker-0.log"
    deadline = time.monotonic() + 30
    while True:
        lines = list(_log_lines(log))
        tagged = [line for line in lines if line.get("request_id") == request_id]
        if tagged or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert lines, log.read_text(errors="replace")[-3000:]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    assert any("approved" in str(line["message"]) for line in tagged), lines[-20:]
    # Lines outside the task carry none, or another request's.
    assert any(line["request_id"] is None for line in lines)


# ----------------------------------------------------------------------------- readiness


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readyz_names_a_broker_that_is_down(registry: Registry) -> None:
    assert httpx.get(f"{registry.url}/readyz", timeout=30).status_code == 200
    queue = registry.services.queue
    port = _closed_port()
    # /readyz goes through the public proxy: neither password may show (userinfo, query).
    registry.services.queue = CeleryQueue(f"redis://:pw-1@127.0.0.1:{port}/0?password=pw-2")
    try:
        answer = httpx.get(f"{registry.url}/readyz", timeout=30)
    finally:
        registry.services.queue = queue
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["blobs"] == "ok"
    assert f"the broker at redis://127.0.0.1:{port}/0 is unreachable" in body["checks"]["broker"]
    assert "pw-1" not in answer.text and "pw-2" not in answer.text


def test_readyz_names_a_blob_store_that_is_down(registry: Registry) -> None:
    blobs = registry.services.blobs
    missing = StorageSettings(
        backend="s3",
        s3=S3Settings(
            bucket="clawft-missing",
            endpoint_url=f"http://127.0.0.1:{_closed_port()}",
            access_key_id="testing",
            secret_access_key="testing",
            connect_timeout_s=1.0,
        ),
    )
    registry.services.blobs = create_blob_store(missing)
    try:
        answer = httpx.get(f"{registry.url}/readyz", timeout=60)
    finally:
        registry.services.blobs = blobs
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == "ok" and checks["broker"] == "ok"
    assert checks["blobs"] != "ok" and checks["blobs"]


# ----------------------------------------------------------------------------- worker metrics


def _scrape_url(url: str, timeout_s: float = 60.0) -> Series:
    """The series at ``url`` once it answers (a worker binds its port before Celery starts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert response.status_code == 200
    return parsed(response.text)


def _socket_inode(port: int) -> str:
    """The inode of the socket listening on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # LISTEN
            return fields[9]
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def _holders(inode: str, pids: list[int]) -> list[int]:
    """Which of ``pids`` hold the socket ``inode`` open."""
    holding = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if any(
                str(fd.readlink()) == f"socket:[{inode}]"
                for fd in Path(f"/proc/{pid}/fd").iterdir()
            ):
                holding.append(pid)
    return holding


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)$", status, re.MULTILINE)[1])  # type: ignore[index]


APPROVED = {"verdict": "approved", "check": ""}


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.fixture
def worker_serving_metrics(
    request: pytest.FixtureRequest, tmp_path: Path, dev_authority: RunningAuthority
) -> Iterator[tuple[Registry, int, ProductionStack]]:
    """The production stack with a worker that, like a compose worker container, has a
    PROMETHEUS_MULTIPROC_DIR of its own (not the registry's) and serves it on a port."""
    port = _closed_port()
    own = tmp_path / "worker-metrics"
    own.mkdir()
    cleanups: list[Callable[[], None]] = []
    try:
        stack = ProductionStack(
            request,
            tmp_path / "registry-data",
            dev_authority.trust_config_path,
            broker_db=8,
            worker_env={
                "PROMETHEUS_MULTIPROC_DIR": str(own),
                "CLAWFT_WORKER_METRICS_PORT": str(port),
            },
        )
        cleanups.append(stack.close)
        registry = serve_registry(
            stack.settings,
            CeleryQueue(stack.broker),
            dev_authority,
            cleanups,
            data=stack.data,
            mode="production",
            workers=stack.workers,
            client_trust=tmp_path / "client-trust",
        )
        yield registry, port, stack
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def test_a_worker_serves_the_metrics_of_its_own_processes(
    worker_serving_metrics: tuple[Registry, int, ProductionStack],
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    registry, port, stack = worker_serving_metrics
    url = f"http://127.0.0.1:{port}/metrics"
    before = _scrape_url(url)
    assert total(before, "clawft_verdicts_total") == 0
    registry_before = scrape(registry)
    publish(registry.client(), signed(built, "hello", dev_authority, tmp_path))
    registry.verify_queued()
    deadline = time.monotonic() + 30
    while True:  # the TUF task's time is recorded as it ends, just after its commit
        after = _scrape_url(url)
        if value(after, "clawft_tuf_sign_seconds_count", task="publish") or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)
    assert value(after, "clawft_verdicts_total", verdict="approved", check="") == 1
    assert total(after, "clawft_verdicts_total") == 1
    assert value(after, "clawft_verification_latency_seconds_count") == 1
    assert value(after, "clawft_tuf_sign_seconds_count", task="publish") >= 1
    # The registry's own /metrics (another directory, as another container) sees none of it.
    registry_after = scrape(registry)
    assert total(registry_after, "clawft_verdicts_total") == total(
        registry_before, "clawft_verdicts_total"
    )
    # Only the worker's main process holds the listening socket: its pool processes, which
    # run plugins' verifications, closed their inherited copy.
    (main,) = stack._workers  # the worker process the stack started
    pool = _children(main.pid)
    assert pool, "the worker has no pool process"
    assert _holders(_socket_inode(port), [main.pid, *pool]) == [main.pid]
    # Connections that send half a request hold at most a bounded number of threads, and only
    # until the idle timeout: then the server answers again.
    threads = _threads(main.pid)
    flood = []
    try:
        for _ in range(100):
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /metr")
            flood.append(client)
        time.sleep(1.0)
        assert _threads(main.pid) <= threads + metrics.WORKER_METRICS_CONNECTIONS
        time.sleep(metrics.WORKER_METRICS_TIMEOUT_S + 2)
        assert value(_scrape_url(url, timeout_s=5), "clawft_verdicts_total", **APPROVED) == 1
    finally:
        for client in flood:
            client.close()


def _worker_refused(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``clawft-registry worker`` on a migrated SQLite database with ``env``; it must stop
    before Celery starts (the broker named does not exist)."""
    database = tmp_path / "registry.db"
    if not database.exists():
        from registry.db import Database, DatabaseSettings
        from registry.db.migrate import upgrade

        db = Database(DatabaseSettings(url=f"sqlite:///{database}"))
        upgrade(db.engine)
        db.dispose()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWFT_", "PROMETHEUS_"))}
    return subprocess.run(
        [str(Path(sys.executable).parent / "clawft-registry"), "worker"],
        env={
            **base,
            "CLAWFT_DATA_DIR": str(tmp_path / "data"),
            "CLAWFT_DATABASE_URL": f"sqlite:///{database}",
            "CLAWFT_BROKER_URL": f"redis://127.0.0.1:{_closed_port()}/0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("directory", ["unset", "missing"])
def test_worker_metrics_without_a_multiprocess_directory_are_refused(
    directory: str, tmp_path: Path
) -> None:
    """Unset: the pool processes' counts would be lost. Missing: prometheus-client would fail
    on import with a traceback."""
    env = {"CLAWFT_WORKER_METRICS_PORT": str(_closed_port())}
    if directory == "missing":
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "no-such-directory")
    result = _worker_refused(env, tmp_path)
    assert result.returncode == 2, result.stderr
    if directory == "unset":
        assert "needs PROMETHEUS_MULTIPROC_DIR" in _error_line(result)
    else:  # refused before prometheus-client, which fails on import, is imported
        assert "PROMETHEUS_MULTIPROC_DIR names" in _error_line(result)
        assert "where no file can be written" in _error_line(result)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("PROMETHEUS_MULTIPROC_DIR", "", "set but empty"),
        ("PROMETHEUS_MULTIPROC_DIR", "/proc/self", "where no file can be written"),
        ("PROMETHEUS_MULTIPROC_DIR", "/tmp/" + "z" * 300 + "\x1b[2J", "where no file can be"),
        ("PROMETHEUS_MULTIPROC_DIR", "{tmp}/a-file", "where no file can be written"),
        ("prometheus_multiproc_dir", "{tmp}", "old name"),
    ],
)
def test_a_metrics_directory_the_processes_cannot_write_stops_every_command(
    name: str, value: str, problem: str, tmp_path: Path
) -> None:
    """Checked before the registry (and prometheus-client, which writes there as it is
    imported) is: `admin migrate` as much as `worker`."""
    (tmp_path / "a-file").write_text("not a directory")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWFT_", "PROMETHEUS_"))}
    for command in (["admin", "migrate"], ["worker"]):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "clawft-registry"), *command],
            env={
                **base,
                "CLAWFT_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}",
                "CLAWFT_BROKER_URL": f"redis://127.0.0.1:{_closed_port()}/0",
                name: value.replace("{tmp}", str(tmp_path)),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 2, result.stderr
        error = _error_line(result)
        assert problem in error and "\x1b" not in error and len(error) < 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written


def test_worker_metrics_on_a_port_in_use_are_refused(tmp_path: Path) -> None:
    own = tmp_path / "metrics"
    own.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _worker_refused(
            {"PROMETHEUS_MULTIPROC_DIR": str(own), "CLAWFT_WORKER_METRICS_PORT": str(port)},
            tmp_path,
        )
    assert result.returncode == 1, result.stderr
    error = _error_line(result)
    assert f"cannot serve the worker's metrics on 127.0.0.1:{port}" in error
    assert "CLAWFT_WORKER_METRICS_PORT" in error
