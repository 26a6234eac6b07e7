"""The ``clawft.verify_upload`` task: fetch an upload by id, verify it, record the verdict once.

The registry enqueues by name, after committing the upload, and never imports this module::

    celery.send_task("clawft.verify_upload", args=[upload_id])

The work is :func:`run_verification`, a plain function the task wraps, so the same code runs
with and without Celery. Outcomes:

* a verdict (``approved`` or ``rejected``) is a normal result: recorded, never retried;
* the verifier failing on an upload (a bug, an input no check foresaw) is a ``rejected``
  verdict whose ``verifier`` check names the failure: a version never stays ``verifying``;
* :class:`~verifier.storage.StorageUnavailable` (store or database unreachable) is retried with
  exponential backoff, up to ``WorkerSettings.max_retries``;
* ``UploadUnreadable`` (the upload's files are gone or malformed) records a ``rejected`` verdict
  naming the problem, then fails the task; :class:`~verifier.storage.InvalidUploadId` and
  ``UploadNotFound`` fail it at once (there is no upload to give a verdict to). Either way the
  error names the upload and the message is acknowledged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from celery.utils.log import get_task_logger

from client.signing import SigstoreInstance
from verifier.pipeline import PluginUpload, failed_verification, shared_analyser, verify_plugin
from verifier.report import Verdict, VerificationReport
from verifier.settings import VerifierSettings
from verifier.storage import (
    DirectoryUploadSource,
    InvalidUploadId,
    SqliteVerdictStore,
    StorageUnavailable,
    UploadNotFound,
    UploadSource,
    UploadToVerify,
    UploadUnreadable,
    VerdictSink,
    validate_upload_id,
)

if TYPE_CHECKING:
    from verifier.celery_app import WorkerSettings

VERIFY_UPLOAD = "clawft.verify_upload"

logger = get_task_logger(__name__)


class VerificationOutcome(TypedDict):
    """What the task returns (JSON): the upload, its verdict, and whether this run wrote it."""

    upload_id: str
    verdict: Verdict
    recorded: bool
    """False when a verdict already existed (a redelivered or repeated task): it was kept."""


@dataclass(frozen=True, slots=True)
class VerificationServices:
    """The seams one worker process verifies through."""

    source: UploadSource
    sink: VerdictSink
    settings: VerifierSettings = field(default_factory=VerifierSettings)
    instance: SigstoreInstance | None = None
    """The Sigstore instance bundles are checked against; ``None``: from ``settings``."""


def services_from_settings(
    settings: WorkerSettings, *, instance: SigstoreInstance | None = None
) -> VerificationServices:
    """A directory of uploads and a SQLite verdict store, as ``settings`` name them."""
    return VerificationServices(
        source=DirectoryUploadSource(
            settings.uploads_dir, max_file_bytes=settings.max_upload_file_bytes
        ),
        sink=SqliteVerdictStore(
            settings.verdicts_db, busy_timeout_s=settings.verdicts_busy_timeout_s
        ),
        settings=settings.verifier,
        instance=instance,
    )


def run_verification(upload_id: str, services: VerificationServices) -> VerificationOutcome:
    """Verify one upload and record its verdict; a verdict already recorded is returned as is."""
    upload_id = validate_upload_id(upload_id)
    existing = services.sink.recorded_verdict(upload_id)
    if existing is not None:
        logger.info(
            "upload %s already has a verdict (%s); not verifying again", upload_id, existing
        )
        return VerificationOutcome(upload_id=upload_id, verdict=existing, recorded=False)
    try:
        job = services.source.fetch(upload_id)
    except UploadUnreadable as exc:
        # The row exists but its bytes cannot be read: nothing can ever approve it, and a row
        # without a verdict would wait for ever. Rejected, with the reason; then the task fails.
        unreadable = PluginUpload(manifest=b"", component=b"", component_name="")
        services.sink.record(upload_id, failed_verification(unreadable, str(exc)))
        raise
    services.sink.mark_verifying(upload_id)
    report = _verify_or_reject(job, services)
    if services.sink.record(upload_id, report):
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in report.failures if not c.skipped)
        logger.info("upload %s %s%s", upload_id, report.verdict, f" ({reasons})" if reasons else "")
        return VerificationOutcome(upload_id=upload_id, verdict=report.verdict, recorded=True)
    kept = services.sink.recorded_verdict(upload_id) or report.verdict
    logger.info("upload %s was verified concurrently; kept the verdict recorded first", upload_id)
    return VerificationOutcome(upload_id=upload_id, verdict=kept, recorded=False)


def _verify_or_reject(job: UploadToVerify, services: VerificationServices) -> VerificationReport:
    """The report of ``job``; if the verifier itself fails on it, a rejection that says so.

    Whatever goes wrong (a bug, an input no check foresaw, an interrupted run), the version
    gets a verdict and is never left ``verifying``."""
    try:
        return verify_plugin(
            job.upload,
            settings=services.settings,
            publishers=job.publishers,
            instance=services.instance,
        )
    except Exception as exc:
        logger.exception("the verifier failed on an upload; it is rejected with the reason")
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return failed_verification(
            job.upload,
            f"the verifier failed while checking this upload ({type(exc).__name__}"
            f"{': ' + detail if detail else ''}); this is a fault of the verifier, not a "
            "judgement of the plugin: report it, and publish a new version to have it checked "
            "again",
            settings=services.settings,
            publishers=job.publishers,
        )


class _PerProcess:
    """Builds the services on first use in each process (never shared across a fork)."""

    def __init__(self, build: Callable[[], VerificationServices]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._built: tuple[int, VerificationServices] | None = None

    def get(self) -> VerificationServices:
        with self._lock:
            if self._built is None or self._built[0] != os.getpid():
                self._built = (os.getpid(), self._build())
            return self._built[1]

    def warm(self) -> None:
        """Build this process's services and start its isolation child before the first
        task, which would otherwise wait for both (about 0.8 s). Best effort: what fails here
        fails again in the first task, which reports it and retries."""
        try:
            shared_analyser(self.get().settings).start()
        except Exception as exc:  # the first task builds them again, and says what is wrong
            logger.warning(
                "this worker process could not prepare for verifications ahead of its first "
                "task (%s: %s); the task will try again",
                type(exc).__name__,
                exc,
            )


def register_verify_upload(
    app: Celery,
    settings: WorkerSettings,
    *,
    services: Callable[[], VerificationServices],
    warm_processes: bool = False,
) -> Task[Any, Any]:
    """Register ``clawft.verify_upload`` on ``app``; ``services`` is called once per process.

    ``warm_processes``: each prefork pool process of this process's worker builds its
    services and starts its isolation child as it starts (in a thread, so the pool does not
    wait for it), not in its first task: a worker that answers is ready to verify at full
    speed, after a start and after each pool process it replaces. Only for the one app a
    worker process runs: the signal reaches every app of the process."""
    per_process = _PerProcess(services)
    if warm_processes:

        def warm(**_: object) -> None:
            threading.Thread(target=per_process.warm, name="clawft-warm-up", daemon=True).start()

        worker_process_init.connect(warm, weak=False)

    @app.task(
        name=VERIFY_UPLOAD,
        # Registered on this app only: another app (e.g. a test's) gets its own services.
        shared=False,
        lazy=False,  # built now, so a wiring mistake fails when the app is built
        bind=True,
        # Expected outcomes, logged as one line each: no verdict, no retry.
        throws=(InvalidUploadId, UploadNotFound, UploadUnreadable),
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=settings.soft_time_limit_s,
        time_limit=settings.time_limit_s,
        max_retries=settings.max_retries,
    )
    def verify_upload(self: Task[Any, Any], upload_id: str) -> VerificationOutcome:
        upload_id = validate_upload_id(upload_id)
        resolved: VerificationServices | None = None
        try:
            resolved = per_process.get()
            return run_verification(upload_id, resolved)
        except StorageUnavailable as exc:
            retries = self.request.retries
            delay = min(settings.retry_backoff_max_s, settings.retry_backoff_s * 2**retries)
            if retries < settings.max_retries:
                logger.warning(
                    "upload %s: %s; retry %d of %d in %d s",
                    upload_id,
                    exc,
                    retries + 1,
                    settings.max_retries,
                    delay,
                )
            raise self.retry(exc=exc, countdown=delay) from exc
        except SoftTimeLimitExceeded:
            # The isolation child may still be working on the interrupted job: replace it.
            if resolved is not None:
                shared_analyser(resolved.settings).close()
            raise

    return verify_upload
