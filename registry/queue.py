"""Sending verification jobs to the verifier, by the task name the verifier defines, and
asking for the TUF repository to be signed again.

The outbox: jobs go out only after the database commit that created them (a
:class:`~registry.db.VerificationJob` row per job, see :func:`dispatch`), so a broker that is
down loses nothing: :func:`sweep_outbox` sends what is still queued when it is back.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
from celery import Celery

from registry.db import Database, VerificationJob
from registry.db.models import JobState, utcnow
from registry.logs import celery_headers
from registry.tuf.tasks import TUF_PUBLISH, TUF_REFRESH
from verifier.tasks import VERIFY_UPLOAD

_log = logging.getLogger("clawft.registry.queue")


class QueueUnavailable(Exception):
    """The broker could not take the job; it stays in the outbox and is sent later."""


class VerificationQueue(Protocol):
    def send(self, upload_id: str) -> None:
        """Hand one job to the broker; raise :class:`QueueUnavailable` when it cannot."""
        ...

    def check(self) -> None:
        """Raise :class:`QueueUnavailable` when the broker is unreachable (for /readyz)."""
        ...

    def request_publish(self) -> None:
        """Ask a worker to sign what the TUF repository lists now. Best effort: the periodic
        refresh signs anything left over, so a broker that is down loses nothing."""
        ...

    def request_refresh(self) -> None:
        """Ask a worker to re-sign TUF metadata near its expiry (what Celery beat sends)."""
        ...


class CeleryQueue:
    """Jobs sent to a Celery broker as ``clawft.verify_upload(upload_id)``."""

    def __init__(self, broker_url: str, result_backend: str | None = None) -> None:
        self.app = Celery("clawft-registry", set_as_current=False)
        self.app.conf.update(
            broker_url=broker_url,
            result_backend=result_backend or broker_url,
            task_serializer="json",
            accept_content=["json"],
            broker_connection_timeout=3,
            broker_connection_retry=False,
            broker_connection_max_retries=0,
        )
        self.broker_url = broker_url

    def send(self, upload_id: str) -> None:
        try:
            # The publish request's id travels as a message header: the task's arguments stay
            # as they are, and its logs carry the id (registry.logs).
            self.app.send_task(
                VERIFY_UPLOAD, args=[upload_id], headers=celery_headers(), retry=False
            )
        except Exception as exc:  # kombu/redis raise many types; any of them means "not sent"
            raise QueueUnavailable(
                f"the broker at {self._shown()} did not take the job: {exc}"
            ) from exc

    def request_publish(self) -> None:
        self._send_quietly(TUF_PUBLISH)

    def request_refresh(self) -> None:
        self._send_quietly(TUF_REFRESH)

    def _send_quietly(self, task: str) -> None:
        try:
            self.app.send_task(task, retry=False)
        except Exception as exc:  # the next refresh signs it
            _log.warning("could not queue %s (the periodic refresh will sign it): %s", task, exc)

    def check(self) -> None:
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0, timeout=2)
        except Exception as exc:
            raise QueueUnavailable(f"the broker at {self._shown()} is unreachable: {exc}") from exc

    def _shown(self) -> str:
        """The broker URL without credentials (nor its query, which may carry a password)."""
        try:
            parts = urlsplit(self.broker_url)
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return "(a URL that cannot be read)"
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


class InMemoryQueue:
    """Jobs kept in a list (tests); ``down`` simulates an unreachable broker."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.publish_requests = 0
        self.refresh_requests = 0
        self.down = False
        self._lock = threading.Lock()

    def send(self, upload_id: str) -> None:
        if self.down:
            raise QueueUnavailable("the in-memory broker is down")
        with self._lock:
            self.sent.append(upload_id)

    def check(self) -> None:
        if self.down:
            raise QueueUnavailable("the in-memory broker is down")

    def request_publish(self) -> None:
        with self._lock:
            self.publish_requests += 1

    def request_refresh(self) -> None:
        with self._lock:
            self.refresh_requests += 1


def dispatch(db: Database, queue: VerificationQueue, version_id: str) -> bool:
    """Send one committed job to the broker; on failure it stays queued for the sweeper."""
    try:
        queue.send(version_id)
    except QueueUnavailable as exc:
        _log.warning("verification of %s stays queued: %s", version_id, exc)
        with db.session() as session:
            job = session.get(VerificationJob, version_id)
            if job is not None:
                job.attempts += 1
                job.last_error = str(exc)[:500]
        return False
    with db.session() as session:
        job = session.get(VerificationJob, version_id)
        if job is not None and job.state == JobState.QUEUED:
            job.state = JobState.SENT
            job.sent_at = utcnow()
            job.attempts += 1
    return True


def sweep_outbox(db: Database, queue: VerificationQueue, *, limit: int = 100) -> int:
    """Send jobs whose message never reached the broker; returns how many went out."""
    with db.session() as session:
        pending = list(
            session.scalars(
                sa.select(VerificationJob.version_id)
                .where(VerificationJob.state == JobState.QUEUED)
                .order_by(VerificationJob.enqueued_at)
                .limit(limit)
            )
        )
    return sum(1 for version_id in pending if dispatch(db, queue, version_id))
