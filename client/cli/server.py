"""``clawft-registry serve``, ``worker`` and ``admin``: running a registry.

These need the ``[server]`` extra; they import the registry inside their handlers, so a
client-only install lists them and says what to install.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from client.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail

SERVER_EXTRA = "this command needs the server extra: pip install 'clawft-registry[server]'"

Handler = Callable[[argparse.Namespace], int]


def server_command(handler: Handler) -> Handler:
    """``handler`` as a command of the registry: refused with one line before the registry is
    imported when ``PROMETHEUS_MULTIPROC_DIR`` names no directory a file can be written to
    (prometheus-client would fail on import), and stopped with one line and exit status 1,
    instead of the driver's traceback, when the database or the blob store cannot be reached,
    refuses an operation, or holds a schema this code cannot run on. The database's URL is
    shown without its password or query."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        problem = _metrics_directory_problem()
        if problem is not None:
            return fail(problem, EXIT_USAGE)
        try:
            from alembic.util.exc import CommandError as SchemaRecordUnreadable
            from sqlalchemy.exc import DBAPIError

            from registry.db.migrate import SchemaOutOfDate
            from registry.db.session import database_cause
            from verifier.storage import StorageUnavailable
        except ImportError:
            return fail(SERVER_EXTRA, EXIT_USAGE)
        try:
            return handler(args)
        except (StorageUnavailable, SchemaOutOfDate) as exc:
            return fail(str(exc), EXIT_FAILED)
        except DBAPIError as exc:  # no privilege, read-only, a corrupt file, a dropped connection
            return fail(
                f"the database refused the command ({database_cause(exc)}); check that it is "
                "running, that this role may read and write it, and that CLAWFT_DATABASE_URL "
                "names it",
                EXIT_FAILED,
            )
        except SchemaRecordUnreadable as exc:  # alembic_version holds two rows, or garbage
            return fail(
                f"the database's record of its schema (table alembic_version) is unusable "
                f"({database_cause(exc)}); restore a backup",
                EXIT_FAILED,
            )

    return run


def _metrics_directory_problem() -> str | None:
    """Why the processes could not share their metrics through ``PROMETHEUS_MULTIPROC_DIR``,
    if they could not: prometheus-client writes a file there as the registry is imported, and
    fails with a traceback (an empty value puts its files in the working directory)."""
    if "prometheus_multiproc_dir" in os.environ:
        return (
            "prometheus_multiproc_dir is prometheus-client's old name: set "
            "PROMETHEUS_MULTIPROC_DIR instead"
        )
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if value is None:
        return None
    if not value:
        return "PROMETHEUS_MULTIPROC_DIR is set but empty: unset it, or name an empty directory"
    try:
        with tempfile.TemporaryFile(dir=value):
            pass
    except OSError as exc:  # missing, a file, not writable, a name too long
        return (
            f"PROMETHEUS_MULTIPROC_DIR names {value[:200]!r}, where no file can be written "
            f"({exc.strerror or exc}): create it, empty and writable, before the registry's "
            "processes start (or unset it)"
        )
    return None


def open_database(settings: Any) -> Any:
    """The registry's :class:`~registry.db.Database`, once it answers and holds the schema this
    code runs on; raises what :func:`server_command` reports."""
    from sqlalchemy import make_url

    from registry.db import Database
    from registry.db.migrate import SchemaOutOfDate, check_at_head
    from registry.db.session import START_CHECK_DEADLINE_S

    if settings.database.is_sqlite:  # not created here: only `admin migrate` and serve do
        path = Path(make_url(settings.database.url).database or "")
        if not path.exists():
            raise SchemaOutOfDate(
                f"there is no database at {str(path)[:200]!r}: run `clawft-registry admin "
                "migrate` to create it, or check CLAWFT_DATABASE_URL"
            )
    db = Database(settings.database)
    try:
        db.check(deadline_s=START_CHECK_DEADLINE_S)
        check_at_head(db.engine)
    except BaseException:
        db.dispose()
        raise
    return db


def register(subparsers: Any) -> None:
    serve: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run a registry on this machine (SQLite, local blobs, embedded broker and worker)",
        description=(
            "Run the registry with everything embedded: SQLite and a blob directory under "
            "--data-dir, an embedded Valkey broker, an in-process verifier worker, and the local "
            "signing authority with a development publisher (its token is written to "
            "DATA_DIR/dev-token). CLAWFT_* variables choose PostgreSQL, S3 or a Redis broker "
            "instead."
        ),
    )
    serve.add_argument("--data-dir", type=Path, help="default: $CLAWFT_DATA_DIR or ./registry-data")
    serve.add_argument("--host", help="default: 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: 8750")
    serve.add_argument(
        "--workers",
        type=int,
        choices=range(1, 257),
        metavar="N",
        help="HTTP worker processes (default: $CLAWFT_WORKERS, else 1 embedded and the CPU count "
        "with a broker of your own)",
    )
    serve.add_argument("--no-worker", action="store_true", help="do not verify in this process")
    serve.set_defaults(handler=server_command(run_serve))

    worker: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="run a worker for a registry: verification and TUF signing (settings from CLAWFT_*)",
    )
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument(
        "--name",
        default="celery@%h",
        help="the worker's node name, as Celery's -n (%%h: the host name; default: celery@%%h): "
        "give each worker on one host its own, e.g. worker-2@%%h",
    )
    worker.add_argument(
        "--beat",
        action="store_true",
        help="also schedule the periodic TUF refresh (run exactly one worker with --beat)",
    )
    worker.set_defaults(handler=server_command(run_worker))

    mirror: argparse.ArgumentParser = subparsers.add_parser(
        "mirror",
        help="write the registry's TUF repository to a directory, as static files",
        description=(
            "Write every root, the current timestamp, snapshot, targets and bins, and every "
            "current target (hash-prefixed) under DIR: any web server, bucket or USB stick "
            "can carry it, and `clawft-registry sync --from DIR` reads it. Settings from "
            "CLAWFT_* as for `worker`."
        ),
    )
    mirror.add_argument("--to", type=Path, required=True, metavar="DIR")
    mirror.add_argument(
        "--data-dir", type=Path, help="default: $CLAWFT_DATA_DIR or ./registry-data"
    )
    mirror.set_defaults(handler=server_command(run_mirror))

    admin: argparse.ArgumentParser = subparsers.add_parser(
        "admin", help="administer a registry: migrate its database, create publishers"
    )
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser("migrate", help="upgrade the database schema to this version")
    migrate.set_defaults(handler=server_command(run_migrate))
    create = actions.add_parser(
        "create-publisher", help="create a publisher, its namespaces and a token (shown once)"
    )
    create.add_argument("name")
    create.add_argument("--namespace", action="append", required=True, dest="namespaces")
    create.add_argument(
        "--signer",
        action="append",
        default=[],
        metavar="IDENTITY=ISSUER",
        help="a trusted signer of the namespaces (repeatable)",
    )
    create.add_argument("--days", type=int, default=90, help="token lifetime")
    create.add_argument(
        "--targets-key",
        metavar="FILE|URI",
        help="sign the namespaces' signer policies into the TUF metadata now (without it, "
        "devices refuse their plugins until `admin sign-signers`)",
    )
    create.set_defaults(handler=server_command(run_create_publisher))

    from client.cli.tuf_admin import register_actions

    register_actions(actions)


def _settings(args: argparse.Namespace) -> Any:
    """Registry settings from ``CLAWFT_*`` (and ``CLAWFT_CONFIG``), then the command's flags."""
    from registry.settings import RegistrySettings

    env = dict(os.environ)
    if getattr(args, "data_dir", None) is not None:
        env["CLAWFT_DATA_DIR"] = str(args.data_dir)
    settings = RegistrySettings.from_env(env)
    if getattr(args, "host", None):
        settings = replace(settings, host=args.host)
    if getattr(args, "port", None):
        settings = replace(settings, port=args.port)
    return settings


def run_serve(args: argparse.Namespace) -> int:
    try:
        from registry import embedded
        from registry.logs import configure_logging
        from registry.serving import check_address, run_http_server, worker_count
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        configure_logging(celery=True)  # CLAWFT_LOG_FORMAT; task lines carry the request id
        settings = _settings(args)
        if args.workers is not None:
            settings = replace(settings, http=replace(settings.http, workers=args.workers))
        check_address(settings.host, settings.port)  # before anything starts
        embedded_broker = settings.worker.broker_url is None
        running = embedded.start(settings, with_worker=not args.no_worker)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        return fail(str(exc), EXIT_FAILED)
    settings = running.settings
    workers = worker_count(settings.http, embedded=embedded_broker)
    url = f"http://{settings.host}:{settings.port}"
    data = settings.data_dir
    print(
        f"clawft registry on {url}  (data in {data}; {workers} HTTP worker process(es))",
        file=sys.stderr,
    )
    if (data / "dev-token").exists():
        print(
            f"development publisher 'dev': token in {data / 'dev-token'}, identity token in "
            f"{data / 'dev-identity-token'}, trust config {data / 'trust-config.json'} "
            "(NOT FOR PRODUCTION)",
            file=sys.stderr,
        )
    try:
        run_http_server(
            settings.http,
            host=settings.host,
            port=settings.port,
            workers=workers,
            environment=embedded.worker_environment(settings, embedded_broker=embedded_broker),
        )
    finally:
        running.stop()
    return EXIT_OK


def run_worker(args: argparse.Namespace) -> int:
    try:
        from registry.logs import configure_logging
        from registry.worker import create_worker_app, start_worker_metrics, worker_node_name
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        node_name = worker_node_name(args.name)
        settings = _settings(args)
        app = create_worker_app(settings)  # the broker, limits and verifier of the one tree
        open_database(settings).dispose()  # down or not migrated: one line, before Celery starts
        configure_logging(celery=True)  # CLAWFT_LOG_FORMAT; task lines carry the request id
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(
            f"cannot use the data directory {settings.data_dir} ({exc.strerror or exc}): set "
            "CLAWFT_DATA_DIR to a directory this user can write",
            EXIT_USAGE,
        )
    try:
        start_worker_metrics(settings)  # CLAWFT_WORKER_METRICS_PORT: before Celery, or not at all
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        return fail(str(exc))
    worker = app.Worker(
        hostname=node_name,
        concurrency=args.concurrency,
        pool="prefork",
        loglevel="INFO",
        beat=args.beat,
        # beat's record of when each periodic task last ran: in the data directory, not in
        # whatever directory the worker was started from
        schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    worker.start()
    # Celery's own status, as `celery worker` exits with: failing after start (an unrecoverable
    # broker error) is not a success.
    return int(worker.exitcode or EXIT_OK)


def run_mirror(args: argparse.Namespace) -> int:
    try:
        from registry.storage import create_blob_store
        from registry.tuf.mirror import write_mirror
        from registry.tuf.repository import RepositoryMissing
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        settings = _settings(args)
        db = open_database(settings)
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        written = write_mirror(db, create_blob_store(settings.storage), args.to)
    except (ValueError, RepositoryMissing) as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        return fail(f"cannot write {args.to}: {exc}")
    finally:
        db.dispose()
    print(
        f"mirrored {written.target_files} targets ({written.target_bytes:,} bytes) to {args.to}; "
        f"{written.metadata_files} new metadata files"
    )
    return EXIT_OK


def run_migrate(args: argparse.Namespace) -> int:
    try:
        from registry.db import Database
        from registry.db.migrate import current_revision, upgrade
        from registry.db.session import START_CHECK_DEADLINE_S
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    try:
        db = Database(_settings(args).database)
        db.check(deadline_s=START_CHECK_DEADLINE_S)
        upgrade(db.engine)
        print(f"database schema at {current_revision(db.engine)}")
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    return EXIT_OK


def run_create_publisher(args: argparse.Namespace) -> int:
    try:
        from registry.domain.publishers.schemas import Signer
        from registry.domain.publishers.services import bootstrap_publisher
        from registry.errors import RegistryError
    except ImportError:
        return fail(SERVER_EXTRA, EXIT_USAGE)
    signers = []
    for item in args.signer:
        identity, sep, issuer = item.partition("=")
        if not sep or not identity or not issuer:
            return fail(f"--signer takes IDENTITY=ISSUER, not {item!r}", EXIT_USAGE)
        signers.append(Signer(identity, issuer))
    try:
        db = open_database(_settings(args))
        with db.session() as session:
            created = bootstrap_publisher(
                session, args.name, args.namespaces, signers, days=args.days
            )
    except ValueError as exc:
        return fail(str(exc), EXIT_USAGE)
    except RegistryError as exc:
        return fail(exc.detail, EXIT_FAILED)
    print(created.token)
    print(
        f"publisher {args.name} owns {', '.join(created.namespaces)}; the token above is shown "
        f"once and expires {created.expires_at}",
        file=sys.stderr,
    )
    if args.targets_key is None:
        print(
            "their signer policies are not signed yet: run `clawft-registry admin sign-signers "
            "--targets-key KEY " + " ".join(created.namespaces) + "` before devices sync them",
            file=sys.stderr,
        )
        return EXIT_OK
    from client.cli.tuf_admin import sign_namespaces

    return sign_namespaces(args, created.namespaces)
