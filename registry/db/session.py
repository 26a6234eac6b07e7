"""Engines and sessions for SQLite and PostgreSQL, and the readiness check for ``/readyz``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.db.settings import DatabaseSettings
from verifier.storage import StorageUnavailable

START_CHECK_DEADLINE_S = 20.0
"""How long a command waits for the database's first answer at start before it gives up."""


class DatabaseUnavailable(StorageUnavailable):
    """The database could not be reached or refused the connection; try again later. A
    :class:`~verifier.storage.StorageUnavailable`, as the verifier's seams expect."""


def create_engine_for(settings: DatabaseSettings) -> Engine:
    """An engine for ``settings.url``: SQLite with WAL, foreign keys and a busy timeout, or
    PostgreSQL through psycopg 3 with a pre-pinged pool."""
    if settings.is_sqlite:
        path = make_url(settings.url).database
        if path and path != ":memory:":
            _prepare_sqlite_file(Path(path))
        engine = create_engine(
            settings.url,
            echo=settings.echo,
            connect_args={"timeout": settings.busy_timeout_s, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.connect_timeout_s},
    )


def _prepare_sqlite_file(path: Path) -> None:
    """Make the directory of a new SQLite database; refuse a path that is there but is not a
    regular file (a directory, ``/dev/null``: SQLite would leave a journal beside it)."""
    shown = str(path)[:200]
    try:
        if path.exists() and not path.is_file():
            raise ValueError(
                f"the SQLite database {shown!r} is not a regular file: check CLAWFT_DATABASE_URL"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission, a name too long
        raise ValueError(
            f"cannot create the directory of the SQLite database {shown!r} "
            f"({exc.strerror or exc}): check CLAWFT_DATABASE_URL"
        ) from None


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; objects stay readable after commit (handlers return them)."""
    return sessionmaker(engine, expire_on_commit=False)


def check(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` unless the database answers a query (``/readyz``)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(_unavailable(engine, exc)) from exc


def shown_url(engine: Engine) -> str:
    """The database's URL for a message (``/readyz`` is public): no password, and no query
    string, which may carry one (``?password=``, ``?sslpassword=``) or a key's path."""
    return engine.url.set(query={}).render_as_string(hide_password=True)


def _unavailable(engine: Engine, exc: BaseException) -> str:
    where = shown_url(engine)
    return (
        f"the database at {where} is unavailable ({database_cause(exc)}); check that it is "
        "running and that CLAWFT_DATABASE_URL names it"
    )


def database_cause(exc: BaseException) -> str:
    """The driver's own words for ``exc`` on one line (psycopg's span several: one per host it
    tried, and a hint), shortened to 300 characters."""
    cause = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
    return cause if len(cause) <= 300 else cause[:299] + "…"


class Database:
    """An engine and its session factory: what the registry's services hold."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine: Engine = create_engine_for(settings)
        self.sessions = session_factory(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error; a lost
        connection reads as :class:`DatabaseUnavailable`."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as exc:
            if _is_connection_error(exc):
                raise DatabaseUnavailable(_unavailable(self.engine, exc)) from exc
            raise
        finally:
            session.close()

    def check(self, *, deadline_s: float | None = None) -> None:
        """See :func:`check`. With ``deadline_s``, a database that accepts the connection but
        does not answer the query within it (a hung server) is unavailable too; a command
        checks this way before it starts, instead of waiting for ever."""
        if deadline_s is None:
            check(self.engine)
            return
        failure: list[BaseException] = []

        def attempt() -> None:
            try:
                check(self.engine)
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        probe = threading.Thread(target=attempt, name="database-check", daemon=True)
        probe.start()
        probe.join(deadline_s)
        if probe.is_alive():
            raise DatabaseUnavailable(
                f"the database at {shown_url(self.engine)} took the connection but did not "
                f"answer a query within {deadline_s:g} s; check that it is running and that "
                "CLAWFT_DATABASE_URL names it"
            )
        if failure:
            raise failure[0]

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_error(exc: SQLAlchemyError) -> bool:
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
