"""The registry database on SQLite and on PostgreSQL: migrations, the constraints that carry the
integrity rules, the version lifecycle, verdicts, tokens and the verification outbox."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import DBAPIError, IntegrityError
from tuf.api.metadata import Metadata, SuccinctRoles, Targets

from client.manifest import version_precedence
from client.sync.schemas import IndexedVersion, PluginIndex, plugin_index_path
from registry.db import (
    ApiToken,
    Base,
    Database,
    DatabaseSettings,
    DatabaseUnavailable,
    IllegalTransition,
    Namespace,
    Plugin,
    PluginVersion,
    Publisher,
    SchemaOutOfDate,
    StatusEvent,
    TrustedSigner,
    TufMetadata,
    TufTarget,
    VerificationJob,
    VersionNotFound,
    VersionTombstone,
    check,
    check_at_head,
    create_engine_for,
    current_revision,
    record_verdict,
    transition,
    upgrade,
)
from registry.db.migrate import head_revision
from registry.db.models import utcnow
from registry.db.tuf_targets import version_targets
from registry.domain.plugins.versions import latest, plugin_detail
from registry.domain.publishers.services import (
    LAST_USED_RESOLUTION,
    authenticate,
    bootstrap_publisher,
)
from registry.domain.publishers.tokens import issue_token, secret_matches, split_token
from registry.settings import RegistrySettings
from registry.tuf.bootstrap import ensure_embedded_repository
from registry.tuf.keys import RepositoryKeys, create_key_file
from registry.tuf.repository import create_repository
from registry.tuf.settings import TufSettings
from verifier.pipeline import PluginUpload, failed_verification

REPORT = '{"checks": [], "verdict": "approved"}'


# -- helpers -----------------------------------------------------------------------------
def publish(db: Database, version: str = "0.1.0", *, plugin: str = "hello") -> str:
    """What a publish writes in one transaction: the version, its first event, its job.
    Creates publisher and namespace ``acme`` on first use; returns the version id."""
    with db.session() as session:
        publisher = session.scalar(sa.select(Publisher).where(Publisher.name == "acme"))
        if publisher is None:
            publisher = Publisher(name="acme")
            session.add(Namespace(name="acme", owner=publisher))
        namespace = session.scalar(sa.select(Namespace).where(Namespace.name == "acme"))
        row = session.scalar(sa.select(Plugin).where(Plugin.name == plugin))
        if row is None:
            row = Plugin(namespace=namespace, name=plugin, description="greets")
        return _add_version(session, row, publisher, version)


def _add_version(
    session: sa.orm.Session, plugin: Plugin, publisher: Publisher, version: str
) -> str:
    row = PluginVersion(
        plugin=plugin,
        version=version,
        component_filename="hello.wasm",
        component_sha256="a" * 64,
        component_size=10,
        manifest_sha256="b" * 64,
        manifest_size=5,
        manifest={"name": f"acme/{plugin.name}", "version": version},
        published_by=publisher,
    )
    session.add(row)
    session.flush()
    session.add(
        StatusEvent(
            version_id=row.id,
            from_status=None,
            to_status="pending",
            actor="publisher:acme",
            reason="published",
        )
    )
    session.add(VerificationJob(version_id=row.id))
    return row.id


def move(db: Database, version_id: str, to: str, actor: str, reason: str = "") -> None:
    with db.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        transition(session, row, to, actor=actor, reason=reason)


def approve(db: Database, version_id: str, verdict: str = "approved") -> None:
    with db.session() as session:
        assert record_verdict(session, version_id, REPORT, verdict)


def state(db: Database, version_id: str) -> tuple[str, list[tuple[str | None, str, str]]]:
    """The version's status and its events as (from, to, actor)."""
    with db.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        return row.status, [(e.from_status, e.to_status, e.actor) for e in row.events]


def description(db: Database) -> str:
    with db.session() as session:
        return session.scalar(sa.select(Plugin.description).where(Plugin.name == "hello")) or ""


# -- migrations --------------------------------------------------------------------------
def test_an_empty_database_migrates_to_head(empty_database: Database) -> None:
    assert current_revision(empty_database.engine) is None
    with pytest.raises(SchemaOutOfDate, match="run `clawft-registry admin migrate`"):
        check_at_head(empty_database.engine)
    upgrade(empty_database.engine)
    upgrade(empty_database.engine.url.render_as_string(hide_password=False))  # idempotent
    assert current_revision(empty_database.engine) == head_revision()
    check_at_head(empty_database.engine)
    empty_database.check()


def test_the_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_the_migrated_check_constraints_are_the_models(database: Database) -> None:
    """Autogenerate does not compare CHECK constraints: compare them by name here."""
    inspector = sa.inspect(database.engine)
    for table in Base.metadata.sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        reflected = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert reflected == expected, table.name
    names = {c["name"] for c in inspector.get_check_constraints("namespaces")}
    assert "ck_namespaces_name_pattern" in names  # the dialect's variant of the name rule


def test_a_schema_from_a_newer_release_is_named_as_such(own_database: Database) -> None:
    database = own_database
    with database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaOutOfDate, match="newer release"):
        check_at_head(database.engine)


# -- names, namespaces, signers ----------------------------------------------------------
@pytest.mark.parametrize("bad", ["Acme", "ac_me", "-acme", "acme-", "ac me", "acmé", ""])
def test_names_are_lowercase_letters_digits_and_hyphens(database: Database, bad: str) -> None:
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Namespace(name=bad, owner=Publisher(name="acme")))
    with database.session() as session:
        session.add(Namespace(name="acme-2", owner=Publisher(name="acme")))
    with pytest.raises(IntegrityError), database.session() as session:
        namespace = session.scalar(sa.select(Namespace))
        session.add(Plugin(namespace=namespace, name=bad))


def test_a_namespace_has_one_owner_who_may_own_several(database: Database) -> None:
    with database.session() as session:
        acme = Publisher(name="acme")
        session.add_all(
            [Namespace(name="acme", owner=acme), Namespace(name="acme-labs", owner=acme)]
        )
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Namespace(name="acme", owner=Publisher(name="mallory")))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Namespace(name="ownerless"))
    with database.session() as session:
        owned = session.scalars(sa.select(Namespace.name).join(Publisher).order_by(Namespace.name))
        assert list(owned) == ["acme", "acme-labs"]
        assert session.scalar(sa.select(Publisher).where(Publisher.name == "mallory")) is None


def test_a_signer_is_trusted_once_per_namespace(database: Database) -> None:
    signer = {"identity": "ci@acme.example", "issuer": "https://issuer.example"}
    with database.session() as session:
        acme = Publisher(name="acme")
        session.add_all(
            [
                Namespace(name="acme", owner=acme, signers=[TrustedSigner(**signer)]),
                Namespace(name="acme-labs", owner=acme, signers=[TrustedSigner(**signer)]),
            ]
        )
    with pytest.raises(IntegrityError), database.session() as session:
        namespace = session.scalar(sa.select(Namespace).where(Namespace.name == "acme"))
        assert namespace is not None
        namespace.signers.append(TrustedSigner(**signer))


# -- versions ----------------------------------------------------------------------------
def test_a_version_number_is_never_reused(database: Database) -> None:
    version_id = publish(database, "0.1.0")
    with pytest.raises(IntegrityError):
        publish(database, "0.1.0")
    with database.session() as session:  # an admin deletes the version: events and job go too
        row = session.get(PluginVersion, version_id)
        session.delete(row)
    with pytest.raises(IntegrityError):
        publish(database, "0.1.0")
    with database.session() as session:  # … and then the whole plugin
        session.delete(session.scalar(sa.select(Plugin)))
    with pytest.raises(IntegrityError):
        publish(database, "0.1.0")
    publish(database, "0.2.0")
    publish(database, "0.1.0", plugin="other")  # numbers are per plugin
    with database.session() as session:
        spent = session.execute(
            sa.select(VersionTombstone.plugin, VersionTombstone.version).order_by(
                VersionTombstone.plugin, VersionTombstone.version
            )
        ).all()
        assert [tuple(r) for r in spent] == [
            ("hello", "0.1.0"),
            ("hello", "0.2.0"),
            ("other", "0.1.0"),
        ]
        assert session.scalar(sa.select(sa.func.count()).select_from(StatusEvent)) == 2


def test_version_and_outbox_job_commit_together(database: Database) -> None:
    class PublishFailed(Exception):
        pass

    publish(database, "0.1.0")
    with pytest.raises(PublishFailed), database.session() as session:
        plugin = session.scalar(sa.select(Plugin))
        publisher = session.scalar(sa.select(Publisher))
        assert plugin is not None and publisher is not None
        _add_version(session, plugin, publisher, "9.9.9")
        session.flush()
        raise PublishFailed
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PluginVersion)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(VerificationJob)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(StatusEvent)) == 1
    version_id = publish(database, "9.9.9")  # the failed publish did not spend the number
    with database.session() as session:
        queued = session.scalars(
            sa.select(VerificationJob.version_id)
            .where(VerificationJob.state == "queued")
            .order_by(VerificationJob.enqueued_at)
        ).all()
        assert version_id in queued and len(queued) == 2


# -- the lifecycle -----------------------------------------------------------------------
def test_every_legal_transition_is_recorded_with_its_actor(database: Database) -> None:
    version_id = publish(database)
    move(database, version_id, "verifying", "verifier")
    approve(database, version_id)
    move(database, version_id, "yanked", "publisher:acme", "broken on arm64")
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None and row.yanked_reason == "broken on arm64"
    move(database, version_id, "approved", "admin:root", "fixed upstream")
    status, events = state(database, version_id)
    assert status == "approved"
    assert events == [
        (None, "pending", "publisher:acme"),
        ("pending", "verifying", "verifier"),
        ("verifying", "approved", "verifier"),
        ("approved", "yanked", "publisher:acme"),
        ("yanked", "approved", "admin:root"),
    ]
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None and row.yanked_reason is None
        assert row.job is not None and row.job.state == "done"
        assert [e.reason for e in row.events][-2:] == ["broken on arm64", "fixed upstream"]

    rejected = publish(database, "0.2.0")  # a verdict may overtake "verifying"
    approve(database, rejected, "rejected")
    assert state(database, rejected)[1][-1] == ("pending", "rejected", "verifier")


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "yanked"),
        ((), "approved"),  # a verdict comes with its report: record_verdict
        (("verifying",), "rejected"),
        (("rejected",), "approved"),
        (("approved",), "pending"),
        (("approved", "yanked"), "yanked"),
        ((), "deleted"),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(
    database: Database, path: tuple[str, ...], illegal: str
) -> None:
    version_id = publish(database)
    for step in path:
        if step in ("approved", "rejected"):
            approve(database, version_id, step)
        else:
            move(database, version_id, step, "admin:root")
    before = state(database, version_id)
    with pytest.raises(IllegalTransition, match=r"cannot become|record_verdict"):
        move(database, version_id, illegal, "admin:root")
    assert state(database, version_id) == before


def test_an_unknown_actor_is_refused(database: Database) -> None:
    version_id = publish(database)
    with pytest.raises(ValueError, match="publisher:<name>"):
        move(database, version_id, "verifying", "somebody")
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(StatusEvent(version_id=version_id, to_status="pending", actor="somebody"))
    assert state(database, version_id)[0] == "pending"


def test_a_stale_version_cannot_be_moved(own_database: Database) -> None:
    """Two requests load the same pending version; the second to write loses, cleanly (two
    connections, so a database of its own)."""
    database = own_database
    version_id = publish(database)
    with database.session() as late:
        stale = late.get(PluginVersion, version_id)
        assert stale is not None and stale.status == "pending"
        move(database, version_id, "verifying", "verifier")  # another request commits first
        with pytest.raises(IllegalTransition, match="changed while this request ran"):
            transition(late, stale, "verifying", actor="verifier")
        late.rollback()
    assert state(database, version_id)[1][-1] == ("pending", "verifying", "verifier")
    assert len(state(database, version_id)[1]) == 2


def test_the_database_refuses_states_the_lifecycle_never_produces(database: Database) -> None:
    version_id = publish(database)
    by_id = PluginVersion.id == version_id
    for values in ({"status": "bogus"}, {"status": "approved"}, {"report": REPORT}):
        with pytest.raises(IntegrityError), database.session() as session:
            session.execute(sa.update(PluginVersion).where(by_id).values(**values))
    assert state(database, version_id)[0] == "pending"


# -- verdicts ----------------------------------------------------------------------------
def test_a_verdict_is_recorded_once(database: Database) -> None:
    version_id = publish(database)
    with database.session() as session:
        assert record_verdict(session, version_id, '{"first": true}', "rejected")
    with database.session() as session:
        first = session.get(PluginVersion, version_id)
        assert first is not None and first.verdict_at is not None
        first_at = first.verdict_at
    with database.session() as session:
        assert not record_verdict(session, version_id, '{"second": true}', "approved")
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None
        assert (row.status, row.report, row.verdict_at) == ("rejected", '{"first": true}', first_at)
        assert len(row.events) == 2
    with pytest.raises(VersionNotFound), database.session() as session:
        record_verdict(session, "0" * 32, REPORT, "approved")
    with pytest.raises(ValueError, match="approved or rejected"), database.session() as session:
        record_verdict(session, version_id, REPORT, "maybe")


def test_racing_workers_record_one_verdict(own_database: Database) -> None:
    """Four connections at once (so a database of its own, committed for real)."""
    database = own_database
    version_id = publish(database)
    move(database, version_id, "verifying", "verifier")
    workers = 4
    start = threading.Barrier(workers)
    results: list[bool] = []

    def worker(n: int) -> None:
        start.wait()
        with database.session() as session:
            results.append(record_verdict(session, version_id, f'{{"worker": {n}}}', "approved"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False] * (workers - 1) + [True]
    status, events = state(database, version_id)
    assert status == "approved" and events.count(("verifying", "approved", "verifier")) == 1


@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_two_versions_approved_at_once_leave_the_latest_description(
    own_database: Database,
) -> None:
    """Two workers approve 0.2.0 and 0.1.0 of one plugin at once; 0.2.0 commits last but one.
    The second used to read the approved versions before it waited for the first, and set the
    description from a list without 0.2.0. (PostgreSQL: SQLite has one writer at a time.)"""
    database = own_database
    ids = {number: publish(database, number) for number in ("0.1.0", "0.2.0")}
    with database.session() as session:
        for number, version_id in ids.items():
            session.execute(
                sa.update(PluginVersion)
                .where(PluginVersion.id == version_id)
                .values(manifest={"name": "acme/hello", "description": f"v{number}"})
            )
    first_done, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with database.session() as session:
                assert record_verdict(session, ids["0.2.0"], REPORT, "approved")
                first_done.set()
                assert release.wait(30)  # commits only once the second waits for it
        except BaseException as exc:
            errors.append(exc)
            first_done.set()

    def second() -> None:
        try:
            with database.session() as session:
                assert record_verdict(session, ids["0.1.0"], REPORT, "approved")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_done.wait(30)
    threads[1].start()
    try:
        deadline = time.monotonic() + 30
        with database.engine.connect() as watcher:
            while not watcher.scalar(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ):
                assert time.monotonic() < deadline, "the second approval never waited"
                time.sleep(0.05)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert description(database) == "v0.2.0"


# -- what an approval lists in the TUF repository ---------------------------------------
def tuf_repository(db: Database, keys_dir: Path) -> SuccinctRoles:
    """Create the TUF repository (16 bins) in ``db``; returns its bins."""
    keys = RepositoryKeys(
        online=create_key_file(keys_dir / "online.pem"),
        root=create_key_file(keys_dir / "root.pem"),
        targets=create_key_file(keys_dir / "targets.pem"),
    )
    with db.session() as session:
        create_repository(session, keys, TufSettings(bins=16))
    return bins_of(db)


def bins_of(db: Database) -> SuccinctRoles:
    with db.session() as session:
        body = session.scalar(
            sa.select(TufMetadata.body)
            .where(TufMetadata.role == "targets")
            .order_by(TufMetadata.version.desc())
            .limit(1)
        )
    assert body is not None
    delegations = Metadata[Targets].from_bytes(body).signed.delegations
    assert delegations is not None and delegations.succinct_roles is not None
    return delegations.succinct_roles


def stored_index(db: Database) -> PluginIndex:
    with db.session() as session:
        content = session.scalar(
            sa.select(TufTarget.content).where(TufTarget.path == plugin_index_path("acme", "hello"))
        )
    assert content is not None
    return msgspec.json.decode(content, type=PluginIndex)


def index_from_rows(db: Database, bins: SuccinctRoles) -> PluginIndex:
    """The index as listing every approved and yanked version afresh gives it."""
    with db.session() as session:
        rows = session.scalars(
            sa.select(PluginVersion).where(PluginVersion.status.in_(["approved", "yanked"]))
        ).all()
        return PluginIndex(
            plugin="acme/hello",
            versions=[
                IndexedVersion(
                    version=row.version,
                    yanked=row.status == "yanked",
                    files={record.part: record.path for record in version_targets(row, bins)},
                    report_sha256=hashlib.sha256((row.report or "").encode()).hexdigest(),
                )
                for row in sorted(rows, key=lambda row: version_precedence(row.version))
            ],
        )


def test_the_index_approvals_and_yanks_keep_is_the_one_the_rows_give(
    database: Database, tmp_path: Path
) -> None:
    """An approval, a yank and an un-yank change the stored plugin index from its own entries
    (a version's files and report never change once listed): what they leave must be what
    listing every version afresh gives, in version order, with the yanks marked."""
    bins = tuf_repository(database, tmp_path)
    ids = {}
    for n, number in enumerate(["0.2.0", "0.10.0", "1.0.0-rc.1", "0.9.1", "1.0.0"]):
        ids[number] = publish(database, number)
        with database.session() as session:
            session.execute(
                sa.update(PluginVersion)
                .where(PluginVersion.id == ids[number])
                .values(manifest={"name": "acme/hello", "description": f"v{number}"})
            )
            assert record_verdict(session, ids[number], f'{{"n": {n}}}', "approved")
    approve(database, publish(database, "2.0.0"), "rejected")
    move(database, ids["0.10.0"], "yanked", "admin:ops", "broken")
    move(database, ids["0.2.0"], "yanked", "admin:ops")
    move(database, ids["0.2.0"], "approved", "admin:ops")
    assert description(database) == "v1.0.0"
    move(database, ids["1.0.0"], "yanked", "admin:ops")
    assert description(database) == "v1.0.0-rc.1"  # the latest approved, not the latest

    index = stored_index(database)
    assert index == index_from_rows(database, bins)
    assert [(entry.version, entry.yanked) for entry in index.versions] == [
        ("0.2.0", False),
        ("0.9.1", False),
        ("0.10.0", True),
        ("1.0.0-rc.1", False),
        ("1.0.0", True),
    ]
    assert len({entry.report_sha256 for entry in index.versions}) == 5


def test_versions_approved_before_the_repository_existed_are_all_listed(
    database: Database, tmp_path: Path
) -> None:
    """A registry that ran before TUF gets its history listed when its repository is created
    (each version's listing then finds the others unlisted yet)."""
    ids = [publish(database, number) for number in ("0.1.0", "0.3.0", "0.2.0")]
    for n, version_id in enumerate(ids):
        with database.session() as session:
            assert record_verdict(session, version_id, f'{{"n": {n}}}', "approved")
    move(database, ids[1], "yanked", "admin:ops")
    approve(database, publish(database, "0.4.0"), "rejected")
    ensure_embedded_repository(
        RegistrySettings.from_env({"CLAWFT_DATA_DIR": str(tmp_path)}), database
    )
    index = stored_index(database)
    assert index == index_from_rows(database, bins_of(database))
    assert [(entry.version, entry.yanked) for entry in index.versions] == [
        ("0.1.0", False),
        ("0.2.0", False),
        ("0.3.0", True),
    ]


@contextmanager
def reads_of_every_version(db: Database) -> Iterator[list[str]]:
    """The SELECTs run meanwhile that read versions' reports or manifests other than one
    version's by its id: what makes a request's cost grow with the plugin's versions."""
    reads: list[str] = []

    def watch(*args: Any) -> None:
        statement = str(args[2])
        columns = statement.split(" FROM ", 1)[0]
        if (
            statement.lstrip().upper().startswith("SELECT")
            and re.search(r"plugin_versions\.(report|manifest)\b", columns)
            and "plugin_versions.id =" not in statement
        ):
            reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", watch)
    try:
        yield reads
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", watch)


def test_an_approval_reads_no_other_versions_report_or_manifest(
    database: Database, tmp_path: Path
) -> None:
    """An approval must cost the same however many versions its plugin has. It used to load
    every approved version's row, report and manifest included, to rebuild the plugin's index
    and description: about 0.6 ms more per version on every approval, on PostgreSQL."""
    tuf_repository(database, tmp_path)
    for n in range(6):
        approve(database, publish(database, f"0.{n}.0"))
    last = publish(database, "1.0.0")
    with reads_of_every_version(database) as reads:
        approve(database, last)
    assert reads == []
    assert [entry.version for entry in stored_index(database).versions][-1] == "1.0.0"


def test_a_plugins_versions_and_its_latest_read_only_the_report_shown(
    database: Database,
) -> None:
    """The plugin's detail (the CLI's `info`, the benchmarks' polls) and its latest
    version used to load every version's row, report and manifest included."""
    report = failed_verification(PluginUpload(b"", b"", ""), "a report the summary reads")
    for n in range(6):
        with database.session() as session:
            assert record_verdict(
                session, publish(database, f"0.{n}.0"), report.to_json().decode(), "approved"
            )
    with reads_of_every_version(database) as reads:
        detail = plugin_detail(database, "acme", "hello")
        newest = latest(database, "acme", "hello")
    assert reads == []
    assert [v.version for v in detail.versions] == [f"0.{n}.0" for n in reversed(range(6))]
    assert newest.version == "0.5.0" and newest.report_summary is not None


# -- tokens ------------------------------------------------------------------------------
def test_a_token_is_stored_only_as_a_hash(database: Database) -> None:
    issued = issue_token()
    parts = split_token(issued.token)
    assert parts is not None
    lookup_id, secret = parts
    expires = utcnow() + timedelta(days=90)

    def token_row(secret_hash: str, lookup: str = lookup_id) -> ApiToken:
        return ApiToken(
            lookup_id=lookup,
            secret_hash=secret_hash,
            publisher=Publisher(name=f"p{lookup}"),
            namespaces=["acme"],
            expires_at=expires,
        )

    with database.session() as session:
        session.add(token_row(issued.secret_hash))
    with database.session() as session:
        stored = repr(session.execute(sa.text("SELECT * FROM api_tokens")).all())
    assert secret not in stored and issued.token not in stored
    with database.session() as session:
        row = session.scalar(sa.select(ApiToken).where(ApiToken.lookup_id == lookup_id))
        assert row is not None
        assert secret_matches(secret, row.secret_hash)
        assert not secret_matches(
            secret[:-1] + ("A" if secret[-1] != "A" else "B"), row.secret_hash
        )
        assert row.namespaces == ["acme"] and row.revoked_at is None
        assert row.expires_at == expires and row.expires_at.tzinfo is not None
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(token_row(secret, lookup="0123456789abcdef"))  # the secret itself: refused
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(token_row(issue_token().secret_hash))  # a lookup id is unique


# -- times, settings, readiness ----------------------------------------------------------
def test_times_are_timezone_aware_utc(database: Database) -> None:
    version_id = publish(database)
    with database.session() as session:
        row = session.get(PluginVersion, version_id)
        assert row is not None and row.created_at.utcoffset() == timedelta(0)
        row.verdict_at = datetime(2026, 1, 1)  # naive: refused rather than guessed at
        with pytest.raises(sa.exc.StatementError, match="timezone-aware"):
            session.flush()
        session.rollback()


def test_settings_default_to_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = DatabaseSettings.from_env({}, data_dir=tmp_path)
    assert settings.url == f"sqlite:///{tmp_path / 'registry.db'}" and settings.is_sqlite
    given = {"CLAWFT_DATABASE_URL": "postgresql://clawft@db/registry", "CLAWFT_DATABASE_ECHO": "1"}
    settings = DatabaseSettings.from_env(given, data_dir=tmp_path)
    assert settings.url == "postgresql+psycopg://clawft@db/registry" and settings.echo
    with pytest.raises(ValueError, match="CLAWFT_DATABASE_URL"):
        DatabaseSettings.from_env({"CLAWFT_DATABASE_URL": "mysql://x/y"}, data_dir=tmp_path)


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://clawft:hunter2@/registry?host={tmp_path / 'nowhere'}"
    engine = create_engine_for(DatabaseSettings(url=url, connect_timeout_s=2))
    try:
        with pytest.raises(DatabaseUnavailable, match="CLAWFT_DATABASE_URL") as caught:
            check(engine)
        assert "hunter2" not in str(caught.value)
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises((IntegrityError, DBAPIError)), database.session() as session:
        session.add(VerificationJob(version_id="f" * 32, enqueued_at=datetime.now(UTC)))


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_starts_from_empty_tables(database: Database, turn: int) -> None:
    """What one test writes is rolled back before the next (the second turn would see the
    first's publisher otherwise)."""
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Publisher)) == 0
        session.add(Publisher(name=f"turn-{turn}"))
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Publisher)) == 1


def test_a_token_in_use_is_written_at_most_once_a_minute(database: Database) -> None:
    """Each authenticated request used to update ``last_used_at``: one database write per
    request, queued on SQLite's one writer. Now a request writes only when the value is a
    minute old."""
    with database.session() as session:
        token = bootstrap_publisher(session, "busy", ["busy"], [], days=30).token
    header = f"Bearer {token}"

    def last_used() -> datetime | None:
        with database.session() as session:
            return session.scalar(sa.select(ApiToken.last_used_at))

    with database.session() as session:
        authenticate(session, header)
    first = last_used()
    assert first is not None
    for _ in range(5):
        with database.session() as session:
            authenticate(session, header)
            assert not session.dirty  # nothing to write
    assert last_used() == first
    with database.session() as session:  # a minute later
        session.execute(sa.update(ApiToken).values(last_used_at=first - LAST_USED_RESOLUTION))
    with database.session() as session:
        authenticate(session, header)
    later = last_used()
    assert later is not None and later >= first
