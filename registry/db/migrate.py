"""Alembic migrations, run programmatically: no ``alembic.ini`` at run time, the migrations
directory ships inside the package (``clawft-registry admin migrate`` calls :func:`upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from registry.db.session import create_engine_for, shown_url
from registry.db.settings import DatabaseSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database schema is not the one this code was written for."""


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration, built in code; ``engine`` is what ``env.py`` migrates."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (head by default); idempotent. Raises
    :class:`SchemaOutOfDate` for a database a newer release migrated."""
    if isinstance(engine_or_url, Engine):
        _refuse_unknown_revision(engine_or_url)
        command.upgrade(alembic_config(engine_or_url), revision)
        return
    settings = DatabaseSettings.from_env({"CLAWFT_DATABASE_URL": engine_or_url}, data_dir=Path())
    engine = create_engine_for(settings)
    try:
        _refuse_unknown_revision(engine)
        command.upgrade(alembic_config(engine), revision)
    finally:
        engine.dispose()


def _refuse_unknown_revision(engine: Engine, current: str | None = None) -> None:
    """Raise :class:`SchemaOutOfDate` when the database is at a revision this code does not
    ship (Alembic's own error would be a traceback about a missing script)."""
    current = current if current is not None else current_revision(engine)
    if current is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    if not any(r.revision == current for r in script.walk_revisions()):
        raise SchemaOutOfDate(
            f"the database schema is at revision {_shortened(current)}, which this version of "
            f"clawft-registry does not know (it expects {head_revision()}): the database was "
            "migrated by a newer release; run that release, or restore a backup"
        )


def _shortened(revision: str) -> str:
    """A revision read from the database, for a message: at most 40 characters."""
    return revision if len(revision) <= 40 else revision[:39] + "…"


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_at_head(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at :func:`head_revision`."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    _refuse_unknown_revision(engine, current)
    where = shown_url(engine)
    raise SchemaOutOfDate(
        f"the database schema at {where} is at "
        f"{_shortened(current) if current else 'nothing (an empty database)'}, "
        f"this code needs {head}: run `clawft-registry admin migrate`"
    )
