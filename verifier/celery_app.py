"""The Celery app of the verifier worker, built from :class:`WorkerSettings` by
:func:`create_celery`.

A registry's workers are ``clawft-registry worker`` (the registry's database and blob store
behind the verifier's seams); ``celery -A verifier.standalone worker`` runs the verifier without
a registry, over a directory of uploads and a SQLite verdict store.

Delivery guarantees: a task is acknowledged only after it finished (``acks_late``), a worker
process that dies mid-task gets its message requeued, and a message whose worker vanished
altogether (killed with its main process) is redelivered by the broker once the visibility
timeout has passed. Together with the write-once verdict (:mod:`verifier.storage`) a job is
verified at least once and recorded exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from celery import Celery

from verifier.pipeline import sigstore_instance
from verifier.settings import VerifierSettings
from verifier.settings_source import SettingsError, SettingsSource
from verifier.tasks import VerificationServices, register_verify_upload, services_from_settings

MIB = 1024 * 1024


REDIS_SCHEMES = ("redis", "rediss", "redis+socket")
"""What the broker may be: Redis or Valkey (the registry's shared rate limits and embedded
broker speak only that). The result backend may be any Celery knows."""


def _celery_url(source: SettingsSource, name: str, *, redis_only: bool) -> str | None:
    """A broker or result backend URL, checked here rather than as a traceback when a worker
    first connects. Never echoed: it may hold a password."""
    url = source.url(name)
    if url is None:
        return None
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        problem = "its host and port cannot be read"
    else:
        if redis_only and parts.scheme not in REDIS_SCHEMES:
            problem = f"it must start {', '.join(s + '://' for s in REDIS_SCHEMES)}"
        elif parts.scheme == "rediss" and "ssl_cert_reqs" not in parse_qs(parts.query):
            problem = "rediss:// needs ?ssl_cert_reqs=required (or optional, or none)"
    if problem is not None:
        raise SettingsError(
            f"{name} is not a URL such as redis://host:6379/0 (not shown: it may hold a "
            f"password): {problem}"
        )
    return url


class WorkerSettingsError(SettingsError):
    """A worker setting is missing, malformed, or inconsistent with another."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Everything the verifier worker needs, read once at start-up."""

    broker_url: str | None = field(default=None, repr=False)
    """Celery broker (``CLAWFT_BROKER_URL``): Redis or Valkey, ``redis://host:port/db``.
    ``None``: ``serve`` starts an embedded Valkey; ``worker`` and the standalone verifier
    refuse to start without one."""
    result_backend: str | None = field(default=None, repr=False)
    """Where task results go (``CLAWFT_RESULT_BACKEND``; ``None``: the broker); verdicts go
    to the verdict store. Neither URL is shown in ``repr``: either may hold a password."""
    soft_time_limit_s: int = 90
    """Seconds after which a task is interrupted (``CLAWFT_TASK_SOFT_TIME_LIMIT_S``).

    Must exceed the isolation wall-clock limit, so a slow plugin is rejected by the sandbox
    with a reason instead of timing the task out."""
    time_limit_s: int = 120
    """Seconds after which the worker process running a task is killed
    (``CLAWFT_TASK_TIME_LIMIT_S``); above the soft limit."""
    max_tasks_per_child: int = 50
    """Tasks a worker process runs before it is replaced
    (``CLAWFT_WORKER_MAX_TASKS_PER_CHILD``)."""
    visibility_timeout_s: int = 300
    """Seconds before the broker redelivers a message whose worker never acknowledged it
    (``CLAWFT_BROKER_VISIBILITY_TIMEOUT_S``). Must exceed the hard time limit and the longest
    retry delay, or a slow task is delivered twice."""
    restore_interval_s: int = 10
    """How often, in seconds, a worker looks for such abandoned messages
    (``CLAWFT_BROKER_RESTORE_INTERVAL_S``)."""
    max_retries: int = 5
    """Retries of a task that met a transient store failure (``CLAWFT_TASK_MAX_RETRIES``)."""
    retry_backoff_s: int = 2
    """First retry delay; doubled on each retry (``CLAWFT_TASK_RETRY_BACKOFF_S``)."""
    retry_backoff_max_s: int = 60
    """Longest retry delay (``CLAWFT_TASK_RETRY_BACKOFF_MAX_S``)."""
    uploads_dir: Path = Path("var/clawft/uploads")
    """Directory of uploads, one sub-directory per upload id (``CLAWFT_UPLOADS_DIR``; the
    standalone verifier only: a registry's worker reads its database and blob store)."""
    verdicts_db: Path = Path("var/clawft/verdicts.sqlite3")
    """SQLite file the verdicts are written to (``CLAWFT_VERDICTS_DB``; standalone only)."""
    verdicts_busy_timeout_s: float = 5.0
    """How long a verdict write waits for a database lock before it counts as unavailable
    and the task is retried (``CLAWFT_VERDICTS_BUSY_TIMEOUT_S``)."""
    max_upload_file_bytes: int = 64 * MIB
    """Largest file of an upload the worker reads (``CLAWFT_MAX_UPLOAD_FILE_BYTES``); the size
    budget proper is a verifier check, this only bounds memory."""
    verifier: VerifierSettings = field(default_factory=VerifierSettings)
    """The checks' limits (``CLAWFT_VERIFIER_*``): with the defaults, the values
    ``clawft-registry verify`` uses, so the command and the worker reach the same report."""

    def __post_init__(self) -> None:
        wall = self.verifier.isolation.wall_seconds
        problems = [
            (self.time_limit_s <= self.soft_time_limit_s, "CLAWFT_TASK_TIME_LIMIT_S must exceed "
             "CLAWFT_TASK_SOFT_TIME_LIMIT_S"),
            (self.soft_time_limit_s <= wall, f"CLAWFT_TASK_SOFT_TIME_LIMIT_S "
             f"({self.soft_time_limit_s:g}) must exceed the isolation wall-clock limit "
             f"CLAWFT_VERIFIER_WALL_SECONDS ({wall:g})"),
            (self.visibility_timeout_s <= max(self.time_limit_s, self.retry_backoff_max_s),
             "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S must exceed both CLAWFT_TASK_TIME_LIMIT_S and "
             "CLAWFT_TASK_RETRY_BACKOFF_MAX_S, or running and delayed tasks are delivered twice"),
            (not 1 <= self.restore_interval_s < self.visibility_timeout_s,
             "CLAWFT_BROKER_RESTORE_INTERVAL_S must be at least 1 and below the visibility "
             "timeout"),
            (self.max_tasks_per_child < 1, "CLAWFT_WORKER_MAX_TASKS_PER_CHILD must be at least 1"),
            (self.max_retries < 0, "CLAWFT_TASK_MAX_RETRIES must not be negative"),
            (not 1 <= self.retry_backoff_s <= self.retry_backoff_max_s,
             "CLAWFT_TASK_RETRY_BACKOFF_S must be at least 1 and at most the maximum backoff"),
            (self.max_upload_file_bytes < 1, "CLAWFT_MAX_UPLOAD_FILE_BYTES must be positive"),
        ]  # fmt: skip
        failed = [message for broken, message in problems if broken]
        if failed:
            raise WorkerSettingsError("invalid worker settings: " + "; ".join(failed))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """Settings of the standalone verifier from ``CLAWFT_*`` variables (see
        :meth:`from_source`); a registry reads them as part of its settings tree."""
        return cls.from_source(SettingsSource(os.environ if environ is None else environ))

    @classmethod
    def from_source(cls, source: SettingsSource) -> WorkerSettings:
        """The worker's settings; unset ones keep their defaults. This is the one place the
        broker, task and ``CLAWFT_VERIFIER_*`` variables are read, for a registry's
        ``worker`` and ``serve`` (through :class:`registry.settings.RegistrySettings`) and for
        the standalone verifier alike."""
        d = cls()
        return cls(
            broker_url=_celery_url(source, "CLAWFT_BROKER_URL", redis_only=True),
            result_backend=_celery_url(source, "CLAWFT_RESULT_BACKEND", redis_only=False),
            soft_time_limit_s=source.integer(
                "CLAWFT_TASK_SOFT_TIME_LIMIT_S", d.soft_time_limit_s, low=1
            ),
            time_limit_s=source.integer("CLAWFT_TASK_TIME_LIMIT_S", d.time_limit_s, low=1),
            max_tasks_per_child=source.integer(
                "CLAWFT_WORKER_MAX_TASKS_PER_CHILD", d.max_tasks_per_child, low=1
            ),
            visibility_timeout_s=source.integer(
                "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S", d.visibility_timeout_s, low=1
            ),
            restore_interval_s=source.integer(
                "CLAWFT_BROKER_RESTORE_INTERVAL_S", d.restore_interval_s, low=1
            ),
            max_retries=source.integer("CLAWFT_TASK_MAX_RETRIES", d.max_retries, low=0),
            retry_backoff_s=source.integer("CLAWFT_TASK_RETRY_BACKOFF_S", d.retry_backoff_s, low=1),
            retry_backoff_max_s=source.integer(
                "CLAWFT_TASK_RETRY_BACKOFF_MAX_S", d.retry_backoff_max_s, low=1
            ),
            uploads_dir=source.path("CLAWFT_UPLOADS_DIR") or d.uploads_dir,
            verdicts_db=source.path("CLAWFT_VERDICTS_DB") or d.verdicts_db,
            verdicts_busy_timeout_s=source.seconds(
                "CLAWFT_VERDICTS_BUSY_TIMEOUT_S", d.verdicts_busy_timeout_s, high=600
            ),
            max_upload_file_bytes=source.integer(
                "CLAWFT_MAX_UPLOAD_FILE_BYTES", d.max_upload_file_bytes, low=1
            ),
            verifier=VerifierSettings.from_source(source),
        )

    @property
    def broker(self) -> str:
        """The broker URL; a worker cannot start without one."""
        if self.broker_url is None:
            raise WorkerSettingsError(
                "no broker: set CLAWFT_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"
            )
        return self.broker_url


def create_celery(
    settings: WorkerSettings,
    *,
    services: Callable[[], VerificationServices] | None = None,
    warm_processes: bool = False,
) -> Celery:
    """The verifier's Celery app, with the ``clawft.verify_upload`` task registered.

    ``services`` builds the upload source, verdict sink and verifier settings once per worker
    process, on first use; by default from ``settings`` (a directory of uploads and a SQLite
    verdict store). Tests pass in-memory ones. ``warm_processes``: build them (and start the
    isolation child) as each pool process starts instead; for the app a worker command runs
    (see :func:`~verifier.tasks.register_verify_upload`).
    """
    app = Celery("clawft-verifier", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker,
        result_backend=settings.result_backend or settings.broker,
        # JSON only: a message can never make the worker unpickle attacker-chosen bytes.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A task that failed permanently or hit its time limit is acknowledged, so a plugin
        # that times the task out cannot keep it circulating.
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.max_tasks_per_child,
        task_soft_time_limit=settings.soft_time_limit_s,
        task_time_limit=settings.time_limit_s,
        task_track_started=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": settings.restore_interval_s,
            # Scan for abandoned messages on every sweep: the interval is the only control.
            "unacked_restore_throttle": 1,
            # A worker killed inside a sweep leaves the sweep's lock behind until it expires;
            # keep that no longer than the redelivery delay itself.
            "unacked_mutex_expire": min(300, settings.visibility_timeout_s),
        },
        broker_connection_retry_on_startup=True,
        result_expires=24 * 3600,
    )
    if services is None:
        # Loaded here, so an unreadable trust config stops the worker from starting.
        instance = sigstore_instance(settings.verifier)
        services = lambda: services_from_settings(settings, instance=instance)  # noqa: E731
    register_verify_upload(app, settings, services=services, warm_processes=warm_processes)
    return app
