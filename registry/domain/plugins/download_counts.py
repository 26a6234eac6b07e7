"""Download counts without a database write per download.

Each HTTP process counts component downloads in memory (a dict under a lock: nanoseconds per
download) and adds what it counted to the ``download_counts`` table in one transaction every
``flush_interval_s`` seconds (one query to find the versions' ids, one upsert of
``downloads = downloads + n`` per version, all in the same commit), and once more when it
stops. Several processes (``serve --workers N``, many machines) each add their own counts, so
the sum is right without coordinating; a page shows the table's count plus what its own process
has not written yet, so another process's downloads appear within one interval. A flush that
fails (the database is down) keeps its counts for the next one: nothing is lost but what a
killed process had not yet written (at most one interval's worth).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from registry.db import Database, DatabaseUnavailable, Namespace, Plugin, PluginVersion
from registry.db.models import DownloadCount

__all__ = ["DownloadCounts"]

_log = logging.getLogger("clawft.registry")

VersionKey = tuple[str, str, str]
"""(namespace, name, version)."""


class DownloadCounts:
    """Downloads counted in this process, added to the database in batches."""

    def __init__(self, db: Database, *, flush_interval_s: float = 5.0) -> None:
        self.db = db
        self.flush_interval_s = flush_interval_s
        self._pending: Counter[VersionKey] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, namespace: str, name: str, version: str) -> None:
        """One download of a version's component (no I/O)."""
        with self._lock:
            self._pending[(namespace, name, version)] += 1

    def pending(self, namespace: str, name: str) -> dict[str, int]:
        """Version → downloads this process counted and has not written yet."""
        with self._lock:
            return {key[2]: n for key, n in self._pending.items() if key[:2] == (namespace, name)}

    def flush(self) -> int:
        """Add the counted downloads to the database in one transaction; how many were added.

        On a database error the counts are kept for the next flush."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return 0
        try:
            self._write(batch)
        except (SQLAlchemyError, DatabaseUnavailable) as exc:
            with self._lock:
                self._pending.update(batch)
            _log.warning("download counts not written yet (kept for the next flush): %s", exc)
            return 0
        return sum(batch.values())

    def _write(self, batch: Counter[VersionKey]) -> None:
        with self.db.session() as session:
            rows = session.execute(
                sa.select(PluginVersion.id, Namespace.name, Plugin.name, PluginVersion.version)
                .join(Plugin, PluginVersion.plugin_id == Plugin.id)
                .join(Namespace, Plugin.namespace_id == Namespace.id)
                .where(
                    sa.tuple_(Namespace.name, Plugin.name, PluginVersion.version).in_(list(batch))
                )
            ).all()
            values = [
                {"version_id": row[0], "downloads": batch[(row[1], row[2], row[3])]} for row in rows
            ]
            if not values:
                return
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(DownloadCount).values(values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[DownloadCount.version_id],
                    set_={"downloads": DownloadCount.downloads + statement.excluded.downloads},
                )
            )

    def start(self) -> None:
        """Flush every ``flush_interval_s`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="clawft-download-counts", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()
