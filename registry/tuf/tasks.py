"""The Celery tasks that keep the TUF repository signed, and what they need.

* ``clawft.tuf_publish``: queued after every approval, yank and un-yank; re-signs the bins of
  what changed since its last run, then snapshot and timestamp (concurrent changes batch into
  one run: the task takes the publish lock, and finds everything dirty).
* ``clawft.tuf_refresh``: run by Celery beat every few minutes (``clawft-registry worker
  --beat``; the embedded ``serve`` sends it itself); publishes anything left dirty (a publish
  message lost with a broker) and re-signs online roles near their expiry.

The worker holds only the online key; the root and targets keys stay offline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from celery import Celery
from tuf.api.metadata import Metadata, Root, Timestamp

from registry.db import Database, TufMetadata
from registry.metrics import timed_tuf_sign
from registry.settings import RegistrySettings
from registry.tuf.keys import RepositoryKeys, signer_for
from registry.tuf.repository import RepositoryMissing, publish_changes, refresh_expiring
from registry.tuf.settings import TufSettings, online_key_uri

__all__ = [
    "REFRESH_INTERVAL_S",
    "TUF_PUBLISH",
    "TUF_REFRESH",
    "TufServices",
    "lazy_tuf_services",
    "online_keys",
    "register_tuf_tasks",
    "run_publish",
    "run_refresh",
]

_log = logging.getLogger("clawft.registry.tuf")
TUF_PUBLISH = "clawft.tuf_publish"
TUF_REFRESH = "clawft.tuf_refresh"
REFRESH_INTERVAL_S = 300.0


@dataclass(frozen=True)
class TufServices:
    db: Database
    keys: RepositoryKeys
    settings: TufSettings


def online_keys(db: Database, settings: TufSettings, data_dir: Path) -> RepositoryKeys:
    """The online signer the repository's current root names for the timestamp role, loaded
    from the configured key URI (or the embedded key file)."""
    with db.session() as session:
        body = session.scalar(
            sa.select(TufMetadata.body)
            .where(TufMetadata.role == Root.type)
            .order_by(TufMetadata.version.desc())
            .limit(1)
        )
    if body is None:
        raise RepositoryMissing(
            "no TUF repository yet: `clawft-registry serve` creates one, or `clawft-registry "
            "admin tuf-init` with the offline keys"
        )
    root = Metadata[Root].from_bytes(body).signed
    (keyid,) = root.roles[Timestamp.type].keyids
    return RepositoryKeys(online=signer_for(online_key_uri(settings, data_dir), root.keys[keyid]))


def lazy_tuf_services(settings: RegistrySettings) -> Callable[[], TufServices]:
    """The TUF services of a worker process, built at its first TUF task (after the fork)."""
    built: list[TufServices] = []
    lock = threading.Lock()

    def services() -> TufServices:
        with lock:
            if not built:
                db = Database(settings.database)
                built.append(
                    TufServices(db, online_keys(db, settings.tuf, settings.data_dir), settings.tuf)
                )
            return built[0]

    return services


def run_publish(services: TufServices) -> dict[str, Any]:
    with timed_tuf_sign("publish"), services.db.session() as session:
        published = publish_changes(session, services.keys, services.settings)
    if published.bins:
        _log.info(
            "TUF: signed %d bin(s), snapshot %s, timestamp %s",
            len(published.bins),
            published.snapshot,
            published.timestamp,
        )
    return asdict(published)


def run_refresh(services: TufServices) -> dict[str, Any]:
    with timed_tuf_sign("refresh"), services.db.session() as session:
        published = refresh_expiring(session, services.keys, services.settings)
    if published.refreshed or published.bins:
        _log.info("TUF: refreshed %s, signed %d bin(s)", published.refreshed, len(published.bins))
    return asdict(published)


def register_tuf_tasks(app: Celery, services: Callable[[], TufServices]) -> None:
    """Add the TUF tasks (and the beat schedule of the refresh) to a worker's Celery app."""

    @app.task(name=TUF_PUBLISH, ignore_result=True)
    def publish() -> dict[str, Any]:
        try:
            return run_publish(services())
        except RepositoryMissing as exc:
            _log.warning("TUF publish skipped: %s", exc)
            return {}

    @app.task(name=TUF_REFRESH, ignore_result=True)
    def refresh() -> dict[str, Any]:
        try:
            return run_refresh(services())
        except RepositoryMissing as exc:
            _log.warning("TUF refresh skipped: %s", exc)
            return {}

    app.conf.beat_schedule = {
        **(app.conf.beat_schedule or {}),
        "clawft-tuf-refresh": {"task": TUF_REFRESH, "schedule": REFRESH_INTERVAL_S},
    }
