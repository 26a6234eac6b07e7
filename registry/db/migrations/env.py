"""Alembic environment. The engine comes from the caller (:mod:`registry.db.migrate` puts it
in ``config.attributes``), or from ``sqlalchemy.url`` of an explicit alembic config; never
from global settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from registry.db.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
owned = engine is None
if engine is None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database to migrate: call registry.db.migrate.upgrade(engine_or_url), "
            "or run `clawft-registry admin migrate`"
        )
    engine = create_engine(url)
try:
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    if owned:
        engine.dispose()
