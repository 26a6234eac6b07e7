"""Engines and sessions for SQLite and PostgreSQL, and the readiness check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.db.settings import DatabaseSettings


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the operation; try again later."""


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """An engine and its session factory."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        if settings.url.startswith("sqlite"):
            path = settings.url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                from pathlib import Path

                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                settings.url,
                echo=settings.echo,
                connect_args={"timeout": settings.busy_timeout_s, "check_same_thread": False},
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(
                settings.url,
                echo=settings.echo,
                pool_size=settings.pool_size,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 5},
            )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as exc:
            if _is_connection_error(exc):
                raise DatabaseUnavailable(f"the database is unavailable: {exc}") from exc
            raise
        finally:
            session.close()

    def check(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(f"the database is unavailable: {exc}") from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _is_connection_error(exc: SQLAlchemyError) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
