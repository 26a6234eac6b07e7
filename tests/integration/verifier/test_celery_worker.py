"""The ``clawft.verify_upload`` task, through real worker processes on a real Redis broker.

Uploads are enqueued the way the registry does it, by task name from a plain Celery client.
The last section runs the task eagerly over in-memory stores, to drive its retry policy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery

from client.signing import TrustedPublisher, sign_plugin
from tests.conftest import ALICE, ROOT, RunningAuthority, component_of
from tests.integration.verifier.conftest import (
    WorkerProcess,
    WorkerSetup,
    database_url,
    make_setup,
)
from verifier import PluginUpload, VerificationReport, VerifierSettings, verify_plugin
from verifier.celery_app import WorkerSettings, create_celery
from verifier.storage import (
    InMemoryUploadSource,
    InMemoryVerdictStore,
    StorageUnavailable,
    UploadNotFound,
    UploadToVerify,
)
from verifier.tasks import VERIFY_UPLOAD, VerificationServices, _PerProcess, run_verification

RESULT_TIMEOUT_S = 60.0

StartWorker = Callable[[WorkerSetup, str], WorkerProcess]


def new_id() -> str:
    return uuid.uuid4().hex


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# --- verdicts through a real worker ---------------------------------------------------------


@pytest.mark.timeout(120)
def test_good_plugin_is_approved_and_hostile_one_rejected_without_retry(
    built: dict[str, Path],
    shared_setup: WorkerSetup,
    shared_worker: WorkerProcess,
    registry_client: Celery,
) -> None:
    good, hostile = new_id(), new_id()
    shared_setup.store(built["hello"], good)
    shared_setup.store(built["infinite-loop"], hostile)

    approved = shared_setup.enqueue(registry_client, good).get(timeout=RESULT_TIMEOUT_S)
    rejected = shared_setup.enqueue(registry_client, hostile).get(timeout=RESULT_TIMEOUT_S)

    assert approved == {"upload_id": good, "verdict": "approved", "recorded": True}
    assert rejected == {"upload_id": hostile, "verdict": "rejected", "recorded": True}
    verdicts = shared_setup.verdicts
    report = verdicts.report(hostile)
    assert report is not None and report.verdict == "rejected"
    (behaviour,) = [c for c in report.failures if not c.skipped]
    assert behaviour.name == "behaviour" and "fuel budget" in behaviour.reason
    # A rejection is a result: one attempt, never retried.
    assert verdicts.status(hostile) == ("rejected", 1)
    assert verdicts.status(good) == ("approved", 1)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("plugin", ["hello", "infinite-loop"])
def test_task_report_equals_the_command_and_verify_plugin(
    plugin: str,
    built: dict[str, Path],
    shared_setup: WorkerSetup,
    shared_worker: WorkerProcess,
    registry_client: Celery,
) -> None:
    upload_id = new_id()
    upload = shared_setup.store(built[plugin], upload_id)
    shared_setup.enqueue(registry_client, upload_id).get(timeout=RESULT_TIMEOUT_S)
    from_task = shared_setup.verdicts.report(upload_id)
    assert from_task is not None

    command = subprocess.run(
        [sys.executable, "-m", "client.cli", "verify", str(built[plugin]), "--json"],
        cwd=ROOT,
        capture_output=True,
        timeout=RESULT_TIMEOUT_S,
        check=False,
    )
    assert command.returncode in (0, 1), command.stderr.decode()
    from_command = VerificationReport.from_json(command.stdout)
    direct = verify_plugin(upload, settings=VerifierSettings())

    assert from_task.without_timings() == from_command.without_timings()
    assert from_task.without_timings() == direct.without_timings()


@pytest.mark.timeout(120)
def test_running_the_task_twice_leaves_one_verdict(
    built: dict[str, Path],
    shared_setup: WorkerSetup,
    shared_worker: WorkerProcess,
    registry_client: Celery,
) -> None:
    upload_id = new_id()
    shared_setup.store(built["hello"], upload_id)

    first = shared_setup.enqueue(registry_client, upload_id).get(timeout=RESULT_TIMEOUT_S)
    kept = shared_setup.verdicts.report(upload_id)
    second = shared_setup.enqueue(registry_client, upload_id).get(timeout=RESULT_TIMEOUT_S)

    assert first == {"upload_id": upload_id, "verdict": "approved", "recorded": True}
    assert second == {"upload_id": upload_id, "verdict": "approved", "recorded": False}
    assert shared_setup.verdicts.verdict_count(upload_id) == 1
    assert shared_setup.verdicts.report(upload_id) == kept
    assert shared_setup.verdicts.status(upload_id) == ("approved", 1)  # not verified again


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("upload_id", "error", "message"),
    [
        ("0" * 32, "UploadNotFound", "no upload 00000000000000000000000000000000 is stored"),
        ("../../etc/passwd", "InvalidUploadId", "refusing upload id '../../etc/passwd'"),
        (None, "InvalidUploadId", "refusing upload id None"),
    ],
)
def test_unknown_and_hostile_ids_fail_at_once(
    upload_id: object,
    error: str,
    message: str,
    shared_setup: WorkerSetup,
    shared_worker: WorkerProcess,
    registry_client: Celery,
) -> None:
    result = shared_setup.enqueue(registry_client, upload_id)
    with pytest.raises(Exception) as raised:
        result.get(timeout=RESULT_TIMEOUT_S)
    assert type(raised.value).__name__ == error
    assert message in str(raised.value)
    assert result.state == "FAILURE"
    assert not (shared_setup.directory / "etc").exists()


@pytest.mark.timeout(120)
def test_locked_verdict_database_is_retried_then_recorded(
    built: dict[str, Path],
    shared_setup: WorkerSetup,
    shared_worker: WorkerProcess,
    registry_client: Celery,
) -> None:
    upload_id = new_id()
    shared_setup.store(built["hello"], upload_id)
    verdicts = shared_setup.verdicts
    verdicts.status(upload_id)  # the schema exists before another writer locks the file
    lock = sqlite3.connect(verdicts.path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        result = shared_setup.enqueue(registry_client, upload_id)
        wait_for(lambda: result.state == "RETRY", RESULT_TIMEOUT_S, "the task to be retried")
    finally:
        lock.close()

    assert result.get(timeout=RESULT_TIMEOUT_S) == {
        "upload_id": upload_id,
        "verdict": "approved",
        "recorded": True,
    }
    assert verdicts.verdict_count(upload_id) == 1
    assert f"upload {upload_id}: the verdict database" in shared_worker.output()


@pytest.mark.timeout(120)
def test_signed_upload_is_checked_against_its_namespace_publishers(
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    redis_url: str,
    tmp_path: Path,
    start_worker: StartWorker,
) -> None:
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    sign_plugin(plugin, instance=dev_authority.instance, identity_token=dev_authority.token())
    setup = make_setup(
        redis_url,
        13,
        tmp_path / "signed",
        CLAWFT_TRUST_CONFIG=str(dev_authority.trust_config_path),
    )
    alice = TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)
    mallory = TrustedPublisher(identity="mallory@example.com", issuer=dev_authority.issuer)
    upload = setup.store(plugin, "by-alice")
    bundle = (plugin / "hello.wasm.sigstore.json").read_bytes()
    signed = PluginUpload(upload.manifest, upload.component, upload.component_name, bundle)
    setup.uploads.put("trusted", UploadToVerify(upload=signed, publishers=(alice,)))
    setup.uploads.put("untrusted", UploadToVerify(upload=signed, publishers=(mallory,)))
    client = setup.client()
    try:
        start_worker(setup, "signed")
        trusted = setup.enqueue(client, "trusted").get(timeout=RESULT_TIMEOUT_S)
        untrusted = setup.enqueue(client, "untrusted").get(timeout=RESULT_TIMEOUT_S)
    finally:
        client.close()

    assert trusted["verdict"] == "approved" and untrusted["verdict"] == "rejected"
    from_task = setup.verdicts.report("trusted")
    assert from_task is not None
    command = subprocess.run(
        [
            sys.executable, "-m", "client.cli", "verify", str(plugin), "--json",
            "--trust-config", str(dev_authority.trust_config_path),
            "--publisher", f"{ALICE}={dev_authority.issuer}",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=RESULT_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert command.returncode == 0, command.stdout.decode() + command.stderr.decode()
    from_command = VerificationReport.from_json(command.stdout)
    assert from_task.without_timings() == from_command.without_timings()
    rejected = setup.verdicts.report("untrusted")
    assert rejected is not None
    (failed,) = rejected.failures
    assert failed.name == "signature" and "mallory@example.com" in failed.reason


# --- a worker killed in the middle of a verification ----------------------------------------


def slow_plugin(built: dict[str, Path], dest: Path, vectors: int) -> Path:
    """slow-loop with ``vectors`` test vectors for ``spin``: each runs into its 1 s timeout."""
    source = built["slow-loop"]
    dest.mkdir(parents=True)
    component = component_of(source)
    (dest / component.name).write_bytes(component.read_bytes())
    manifest = (source / "clawft-plugin.toml").read_text()
    manifest += "".join(
        f'\n[[tests]]\ntool = "spin"\ninput = \'{{"round": {n}}}\'\nexpect = "ok"\n'
        for n in range(vectors)
    )
    (dest / "clawft-plugin.toml").write_text(manifest)
    return dest


@pytest.mark.timeout(150)
def test_killed_worker_job_is_redelivered_and_recorded_once(
    built: dict[str, Path], redis_url: str, tmp_path: Path, start_worker: StartWorker
) -> None:
    visibility_s = 14
    setup = make_setup(
        redis_url,
        12,
        tmp_path / "kill",
        CLAWFT_VERIFIER_WALL_SECONDS="10",  # a verification takes about 4 s
        CLAWFT_TASK_SOFT_TIME_LIMIT_S="11",
        CLAWFT_TASK_TIME_LIMIT_S="12",
        CLAWFT_BROKER_VISIBILITY_TIMEOUT_S=str(visibility_s),
        CLAWFT_BROKER_RESTORE_INTERVAL_S="1",
        CLAWFT_TASK_RETRY_BACKOFF_S="1",
        CLAWFT_TASK_RETRY_BACKOFF_MAX_S="2",
    )
    upload_id = new_id()
    setup.store(slow_plugin(built, tmp_path / "slow", vectors=3), upload_id)
    verdicts = setup.verdicts
    client = setup.client()
    try:
        first = start_worker(setup, "first")
        result = setup.enqueue(client, upload_id)
        delivered = time.monotonic()
        wait_for(
            lambda: verdicts.status(upload_id) == ("verifying", 1),
            RESULT_TIMEOUT_S,
            "the first worker to start verifying",
        )
        time.sleep(1.0)  # compiling the component or spinning in its first vector
        first.kill()
        assert verdicts.status(upload_id) == ("verifying", 1)
        assert verdicts.verdict_count(upload_id) == 0

        start_worker(setup, "second")
        outcome = result.get(timeout=visibility_s + RESULT_TIMEOUT_S)
        redelivered_after = time.monotonic() - delivered
    finally:
        client.close()

    assert outcome == {"upload_id": upload_id, "verdict": "rejected", "recorded": True}
    assert verdicts.verdict_count(upload_id) == 1
    assert verdicts.status(upload_id) == ("rejected", 2)  # the second attempt was a redelivery
    assert redelivered_after >= visibility_s
    report = verdicts.report(upload_id)
    assert report is not None and report.verdict == "rejected"
    (failed,) = [c for c in report.failures if not c.skipped]
    assert failed.name == "behaviour"
    assert "test vector 'spin' did not finish" in failed.reason
    assert "ran past its timeout of 1 s" in failed.reason


def isolation_children(root: int) -> list[int]:
    """The isolation children among the descendants of process ``root`` (from /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # it exited meanwhile
        parents[int(entry.name)], commands[int(entry.name)] = parent, command
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += [pid for pid in children if b"verifier.isolation.child" in commands[pid]]
        frontier = children
    return found


@pytest.mark.timeout(120)
def test_a_ready_worker_verifies_its_first_upload_with_a_child_already_warm(
    built: dict[str, Path], redis_url: str, tmp_path: Path, start_worker: StartWorker
) -> None:
    """A pool process builds its services and starts its isolation child as it starts: the
    first upload after a worker starts (or replaces a pool process) used to wait about 0.8 s
    for both."""
    setup = make_setup(redis_url, 14, tmp_path / "warm")
    worker = start_worker(setup, "warm")
    wait_for(
        lambda: len(isolation_children(worker.process.pid)) == 1,
        30,
        "the pool process to start its isolation child before any task",
    )
    (warm,) = isolation_children(worker.process.pid)
    upload_id = new_id()
    setup.store(built["hello"], upload_id)
    client = setup.client()
    try:
        outcome = setup.enqueue(client, upload_id).get(timeout=RESULT_TIMEOUT_S)
    finally:
        client.close()
    assert outcome == {"upload_id": upload_id, "verdict": "approved", "recorded": True}
    assert isolation_children(worker.process.pid) == [warm]  # the task used that child
    assert "could not prepare" not in worker.output()


# --- the retry policy, eagerly over in-memory stores ---------------------------------------


class FlakyVerdicts(InMemoryVerdictStore):
    """A verdict store whose first ``failures`` writes find the database unavailable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.writes = 0

    def record(self, upload_id: str, report: VerificationReport) -> bool:
        self.writes += 1
        if self.writes <= self.failures:
            raise StorageUnavailable("the verdict database is restarting")
        return super().record(upload_id, report)


def eager_app(source: InMemoryUploadSource, sink: InMemoryVerdictStore, retries: int) -> Celery:
    settings = WorkerSettings(
        broker_url="memory://", result_backend="cache+memory://", max_retries=retries
    )
    return create_celery(settings, services=lambda: VerificationServices(source, sink))


def in_memory_upload(built: dict[str, Path], plugin: str) -> tuple[InMemoryUploadSource, str]:
    component = component_of(built[plugin])
    upload = PluginUpload(
        manifest=(built[plugin] / "clawft-plugin.toml").read_bytes(),
        component=component.read_bytes(),
        component_name=component.name,
    )
    source, upload_id = InMemoryUploadSource(), new_id()
    source.put(upload_id, UploadToVerify(upload=upload))
    return source, upload_id


def test_transient_store_failure_is_retried_then_succeeds(built: dict[str, Path]) -> None:
    source, upload_id = in_memory_upload(built, "hello")
    sink = FlakyVerdicts(failures=1)
    result = eager_app(source, sink, retries=3).tasks[VERIFY_UPLOAD].apply(args=[upload_id])

    assert result.get() == {"upload_id": upload_id, "verdict": "approved", "recorded": True}
    assert sink.writes == 2
    assert source.fetches == [upload_id, upload_id]
    assert list(sink.reports) == [upload_id]


def test_store_failure_past_the_retry_budget_fails_the_task(built: dict[str, Path]) -> None:
    source, upload_id = in_memory_upload(built, "hello")
    sink = FlakyVerdicts(failures=10)
    result = eager_app(source, sink, retries=2).tasks[VERIFY_UPLOAD].apply(args=[upload_id])

    assert result.state == "FAILURE"
    assert isinstance(result.result, StorageUnavailable)
    assert sink.writes == 3  # the first try and two retries
    assert sink.reports == {}


def test_rejection_and_missing_upload_are_never_retried(built: dict[str, Path]) -> None:
    source, upload_id = in_memory_upload(built, "infinite-loop")
    sink = InMemoryVerdictStore()
    task = eager_app(source, sink, retries=3).tasks[VERIFY_UPLOAD]

    assert task.apply(args=[upload_id]).get()["verdict"] == "rejected"
    assert source.fetches == [upload_id]

    missing = task.apply(args=["missing"])
    assert missing.state == "FAILURE" and isinstance(missing.result, UploadNotFound)
    assert source.fetches == [upload_id, "missing"]


def test_a_process_that_cannot_prepare_says_so_and_its_first_task_tries_again(
    built: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Preparing a pool process is best effort: a store still starting when the worker does
    is a warning, and the first task builds the services again."""
    source, upload_id = in_memory_upload(built, "hello")
    sink = InMemoryVerdictStore()
    builds: list[int] = []

    def services() -> VerificationServices:
        builds.append(len(builds))
        if len(builds) == 1:
            raise StorageUnavailable("the upload store is still starting")
        return VerificationServices(source, sink)

    per_process = _PerProcess(services)
    with caplog.at_level(logging.WARNING, logger="verifier.tasks"):
        per_process.warm()
    assert (
        "could not prepare for verifications ahead of its first task (StorageUnavailable: "
        "the upload store is still starting)" in caplog.text
    )
    assert run_verification(upload_id, per_process.get())["verdict"] == "approved"
    assert len(builds) == 2


def test_concurrent_runs_keep_the_first_verdict(built: dict[str, Path]) -> None:
    """Two attempts that both found no verdict yet (a redelivery racing the original)."""

    class Racing(InMemoryVerdictStore):
        def recorded_verdict(self, upload_id: str) -> None:
            return None

    source, upload_id = in_memory_upload(built, "hello")
    sink = Racing()
    services = VerificationServices(source, sink)

    first = run_verification(upload_id, services)
    kept = sink.reports[upload_id]
    second = run_verification(upload_id, services)

    assert first["recorded"] is True and second["recorded"] is False
    assert sink.reports == {upload_id: kept}
    assert sink.attempts == {upload_id: 2}


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"CLAWFT_VERIFIER_CPU_SECONDS": "0"}, "CLAWFT_VERIFIER_CPU_SECONDS"),
        ({"CLAWFT_BROKER_URL": ""}, "CLAWFT_BROKER_URL"),
        ({"CLAWFT_BROKER_URL_FILE": "/dev/zero"}, "CLAWFT_BROKER_URL_FILE"),
        ({"CLAWFT_TRUST_CONFIG": "/no/such/trust-config.json"}, "CLAWFT_TRUST_CONFIG"),
    ],
)
def test_the_standalone_worker_stops_at_a_bad_setting_with_one_line(
    setting: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWFT_")}
    if "CLAWFT_BROKER_URL_FILE" not in setting:  # a broker given both ways is another error
        env["CLAWFT_BROKER_URL"] = "redis://127.0.0.1:1/0"
    env.update(setting)  # an empty CLAWFT_BROKER_URL counts as unset
    started = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "verifier.standalone", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 2, started.stderr
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), started.stderr
    assert named in lines[0]


def test_worker_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = WorkerSettings.from_env(
        {
            "CLAWFT_BROKER_URL": "redis://127.0.0.1:1/2",
            "CLAWFT_UPLOADS_DIR": str(tmp_path),
            "CLAWFT_WORKER_MAX_TASKS_PER_CHILD": "7",
            "CLAWFT_VERIFIER_WALL_SECONDS": "30",
            "CLAWFT_VERIFIER_STAGING": "yes",
            "CLAWFT_VERIFIER_SCRATCH_BYTES": "1048576",
            "CLAWFT_VERIFIER_SCRATCH_ENTRIES": "64",
            "CLAWFT_VERIFIER_SCRATCH_DIR": str(tmp_path),
        }
    )
    assert settings.result_backend is None  # the broker's
    assert settings.uploads_dir == tmp_path
    assert settings.verifier.isolation.wall_seconds == 30.0 and settings.verifier.staging
    assert settings.verifier.isolation.scratch_bytes == 1 << 20
    assert settings.verifier.isolation.scratch_entries == 64
    assert settings.verifier.isolation.scratch_root == tmp_path
    app = create_celery(settings)
    assert app.conf.result_backend == "redis://127.0.0.1:1/2"
    assert app.conf.worker_max_tasks_per_child == 7
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]
    assert app.conf.broker_transport_options["visibility_timeout"] == 300
    task = app.tasks[VERIFY_UPLOAD]
    assert (task.soft_time_limit, task.time_limit) == (90, 120)
    assert json.dumps(app.conf.broker_transport_options)  # plain values only


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CLAWFT_TASK_TIME_LIMIT_S": "soon"},
            "CLAWFT_TASK_TIME_LIMIT_S must be a whole number of at least 1, not 'soon'",
        ),
        ({"CLAWFT_TASK_SOFT_TIME_LIMIT_S": "30"}, "must exceed the isolation wall-clock limit"),
        ({"CLAWFT_BROKER_VISIBILITY_TIMEOUT_S": "100"}, "delivered twice"),
        (
            {"CLAWFT_VERIFIER_STAGING": "maybe"},
            "CLAWFT_VERIFIER_STAGING must be 1, 0, true, false, yes or no, not 'maybe'",
        ),
        ({"CLAWFT_VERIFIER_STAGING": "on"}, "CLAWFT_VERIFIER_STAGING must be 1, 0,"),
        ({"CLAWFT_VERIFIER_SCRATCH_BYTES": "-1"}, "CLAWFT_VERIFIER_SCRATCH_BYTES must be a"),
        ({"CLAWFT_VERIFIER_SCRATCH_ENTRIES": "-1"}, "of at least 0, not '-1'"),
        ({"CLAWFT_VERIFIER_SCRATCH_ENTRIES": "many"}, "must be a whole number"),
        ({"CLAWFT_VERIFIER_SCRATCH_DIR": "/no/such/dir"}, "is not a directory"),
        (
            {"CLAWFT_VERIFIER_TRUST_CONFIG": "trust.json"},
            "CLAWFT_VERIFIER_TRUST_CONFIG is no longer read: set CLAWFT_TRUST_CONFIG instead",
        ),
    ],
)
def test_inconsistent_worker_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        WorkerSettings.from_env(env)
    assert message in str(raised.value)


def test_the_registry_enqueues_the_task_the_worker_registers(redis_url: str) -> None:
    """One constant names the task on both sides: the message the registry puts on the broker
    names the task a worker registers."""
    import redis

    from registry.queue import CeleryQueue

    broker = database_url(redis_url, 10)
    CeleryQueue(broker).send("a1b2c3")
    with redis.Redis.from_url(broker) as client:
        raw = client.lpop("celery")
    assert raw is not None
    message = json.loads(raw)
    assert message["headers"]["task"] == VERIFY_UPLOAD
    assert message["headers"]["argsrepr"] == "['a1b2c3']"
    assert VERIFY_UPLOAD in create_celery(WorkerSettings(broker_url=broker)).tasks
