"""Engines and sessions for SQLite and PostgreSQL, and the readiness check for ``/readyz``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.db.settings import DatabaseSettings
from verifier.storage import StorageUnavailable


class DatabaseUnavailable(StorageUnavailable):
    """The database could not be reached or refused the connection; try again later. A
    :class:`~verifier.storage.StorageUnavailable`, as the verifier's seams expect."""


def create_engine_for(settings: DatabaseSettings) -> Engine:
    """An engine for ``settings.url``: SQLite with WAL, foreign keys and a busy timeout, or
    PostgreSQL through psycopg 3 with a pre-pinged pool."""
    if settings.is_sqlite:
        path = make_url(settings.url).database
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission, a read-only system
                raise ValueError(
                    f"cannot create the directory of the SQLite database {path!r} "
                    f"({exc.strerror or exc}): check CLAWFT_DATABASE_URL"
                ) from None
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


def _unavailable(engine: Engine, exc: BaseException) -> str:
    where = engine.url.render_as_string(hide_password=True)
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

    def check(self) -> None:
        """See :func:`check`."""
        check(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_error(exc: SQLAlchemyError) -> bool:
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
