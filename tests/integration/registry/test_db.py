"""The registry database on SQLite and PostgreSQL: migrations, constraints, the lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from registry.db import (
    Base,
    Database,
    IllegalTransition,
    Namespace,
    Plugin,
    PluginVersion,
    Publisher,
    StatusEvent,
    VerificationJob,
    record_verdict,
    transition,
)
from registry.db.migrate import SchemaOutOfDate, check_at_head, current_revision, head_revision


def seed(db: Database, version: str = "0.1.0") -> str:
    """A publisher, its namespace, a plugin and one pending version; returns the version id."""
    with db.session() as session:
        publisher = session.scalar(sa.select(Publisher).where(Publisher.name == "acme"))
        if publisher is None:
            publisher = Publisher(name="acme")
            namespace = Namespace(name="acme", owner=publisher)
            plugin = Plugin(namespace=namespace, name="hello", description="greets")
            session.add_all([publisher, namespace, plugin])
        else:
            plugin = session.scalar(sa.select(Plugin).where(Plugin.name == "hello"))
            assert plugin is not None
        row = PluginVersion(
            plugin=plugin,
            version=version,
            component_filename="hello.wasm",
            component_sha256="a" * 64,
            component_size=10,
            manifest_sha256="b" * 64,
            manifest_size=5,
            manifest={"name": "acme/hello", "version": version},
            published_by=publisher,
        )
        session.add(row)
        session.flush()
        session.add(VerificationJob(version_id=row.id))
        return row.id


def test_migrated_schema_matches_the_models(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    check_at_head(database.engine)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_an_empty_database_is_not_at_head(tmp_path: Any) -> None:
    from registry.db import DatabaseSettings

    db = Database(DatabaseSettings(url=f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    with pytest.raises(SchemaOutOfDate, match="admin migrate"):
        check_at_head(db.engine)


def test_names_and_versions_are_unique(database: Database) -> None:
    seed(database)
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Namespace(name="acme", owner=Publisher(name="other")))
    with pytest.raises(IntegrityError):
        seed(database, "0.1.0")  # a version number is never reused
    seed(database, "0.2.0")


def test_the_lifecycle_is_recorded_with_its_actors(database: Database) -> None:
    version_id = seed(database)
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        transition(session, row, "verifying", actor="verifier")
    with database.session() as session:
        assert record_verdict(session, version_id, '{"verdict": "approved"}', "approved")
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        transition(session, row, "yanked", actor="publisher:acme", reason="broken on arm64")
        transition(session, row, "approved", actor="publisher:acme", reason="fixed upstream")
    with database.session() as session:
        events = session.scalars(
            sa.select(StatusEvent)
            .where(StatusEvent.version_id == version_id)
            .order_by(StatusEvent.id)
        ).all()
        assert [(e.from_status, e.to_status, e.actor) for e in events] == [
            ("pending", "verifying", "verifier"),
            ("verifying", "approved", "verifier"),
            ("approved", "yanked", "publisher:acme"),
            ("yanked", "approved", "publisher:acme"),
        ]
        job = session.get(VerificationJob, version_id)
        assert job is not None and job.state == "done"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [((), "yanked"), (("rejected",), "approved"), (("approved",), "pending"), ((), "deleted")],
)
def test_illegal_transitions_change_nothing(
    database: Database, path: tuple[str, ...], illegal: str
) -> None:
    version_id = seed(database)
    for step in path:
        with database.session() as session:
            row = session.get(PluginVersion, version_id)
            assert row is not None
            transition(session, row, step, actor="test")
    with pytest.raises(IllegalTransition), database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        transition(session, row, illegal, actor="test")
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None and row.status == (path[-1] if path else "pending")


def test_the_status_check_constraint_holds(database: Database) -> None:
    version_id = seed(database)
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(
            sa.update(PluginVersion).where(PluginVersion.id == version_id).values(status="bogus")
        )


def test_a_verdict_is_recorded_once(database: Database) -> None:
    version_id = seed(database)
    with database.session() as session:
        assert record_verdict(session, version_id, '{"first": true}', "rejected")
    with database.session() as session:
        assert not record_verdict(session, version_id, '{"second": true}', "approved")
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        assert (row.status, row.report) == ("rejected", '{"first": true}')


def test_version_and_outbox_commit_together(database: Database) -> None:
    class Boom(Exception):
        pass

    seed(database)
    with pytest.raises(Boom), database.session() as session:
        plugin = session.scalar(sa.select(Plugin))
        publisher = session.scalar(sa.select(Publisher))
        row = PluginVersion(
            plugin=plugin,
            version="9.9.9",
            component_filename="hello.wasm",
            component_sha256="c" * 64,
            component_size=1,
            manifest_sha256="d" * 64,
            manifest_size=1,
            manifest={},
            published_by=publisher,
        )
        session.add(row)
        session.flush()
        session.add(VerificationJob(version_id=row.id))
        session.flush()
        raise Boom
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(VerificationJob)) == 1
        assert (
            session.scalar(sa.select(sa.func.count()).where(PluginVersion.version == "9.9.9")) == 0
        )
