"""Alembic migrations, run programmatically: no ``alembic.ini`` at run time, the migrations
directory ships inside the package (``clawft-registry admin migrate`` calls :func:`upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from registry.db.session import create_engine_for
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
    """Apply every migration up to ``revision`` (head by default); idempotent."""
    if isinstance(engine_or_url, Engine):
        command.upgrade(alembic_config(engine_or_url), revision)
        return
    settings = DatabaseSettings.from_env({"CLAWFT_DATABASE_URL": engine_or_url}, data_dir=Path())
    engine = create_engine_for(settings)
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        engine.dispose()


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
    script = ScriptDirectory.from_config(alembic_config())
    known = current is None or any(r.revision == current for r in script.walk_revisions())
    if not known:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current}, which this version of "
            f"clawft-registry does not know (it expects {head}): the database was migrated "
            "by a newer release; run that release, or restore a backup"
        )
    where = engine.url.render_as_string(hide_password=True)
    raise SchemaOutOfDate(
        f"the database schema at {where} is at {current or 'nothing (an empty database)'}, "
        f"this code needs {head}: run `clawft-registry admin migrate`"
    )
