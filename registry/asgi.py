"""The app of each HTTP worker process of ``serve`` (granian's factory target).

A worker reads its settings from the environment, as every process of the registry does; the
``serve`` process that started it put there what it decided (the embedded broker's URL, the
development trust config), so every worker serves the same registry. The worker builds its own
connections (database, blob store, broker): nothing is shared across processes.
"""

from __future__ import annotations

from registry.app import create_app
from registry.fastpath import DownloadFastPath
from registry.logs import configure_logging
from registry.services import services_of
from registry.settings import RegistrySettings

__all__ = ["create_worker_app"]


def create_worker_app() -> DownloadFastPath:
    """The registry app from this process's environment, with cached downloads answered in
    front of it (:mod:`registry.fastpath`)."""
    configure_logging()
    app = create_app(RegistrySettings.from_env())
    return DownloadFastPath(app, services_of(app))
