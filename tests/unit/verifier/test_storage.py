"""The verifier's storage seams: upload ids, upload sources, and write-once verdict stores."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest

from client.signing import TrustedPublisher
from verifier.pipeline import PluginUpload
from verifier.report import AppliedPolicy, CheckResult, Verdict, VerificationReport
from verifier.storage import (
    DirectoryUploadSource,
    InMemoryUploadSource,
    InMemoryVerdictStore,
    InvalidUploadId,
    SqliteVerdictStore,
    StorageError,
    StorageUnavailable,
    UploadNotFound,
    UploadSource,
    UploadToVerify,
    UploadUnreadable,
    VerdictSink,
    validate_upload_id,
)

ALICE = TrustedPublisher(identity="alice@example.com", issuer="https://issuer.example")

HOSTILE_IDS: list[object] = [
    "",
    ".",
    "..",
    "../outside",
    "../../etc/passwd",
    "a/b",
    "/abs",
    "a\\b",
    "a\x00b",
    "a\nb",
    " a",
    "-lead",
    "_lead",
    ".hidden",
    "x" * 129,
    "ünïcode",
    "a.b",
    None,
    7,
    b"abc",
]


def report(verdict: Verdict = "approved", reason: str = "fine") -> VerificationReport:
    return VerificationReport(
        verdict=verdict,
        plugin="acme/demo",
        version="1.0.0",
        component_sha256="0" * 64,
        manifest_sha256="1" * 64,
        verifier_version="0.1.0",
        policy=AppliedPolicy(
            component_max_bytes=1,
            component_max_gzip_bytes=1,
            wasi_allowlist=[],
            isolation_cpu_seconds=1,
            isolation_memory_bytes=1,
            trusted_publishers=[],
            sigstore_instance="public Sigstore",
        ),
        checks=[CheckResult(name="manifest", passed=verdict == "approved", reason=reason)],
        audit=[],
        duration_s=0.5,
    )


def job(
    *, bundle: bytes | None = None, publishers: tuple[TrustedPublisher, ...] = ()
) -> UploadToVerify:
    upload = PluginUpload(
        manifest=b'name = "acme/demo"\n',
        component=b"\x00asm component bytes",
        component_name="demo.wasm",
        bundle=bundle,
    )
    return UploadToVerify(upload=upload, publishers=publishers)


# --- upload ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upload_id", ["a", "0", "0f3c9e2a-7b1d-4c55-9e0f-1a2b3c4d5e6f", "A_b-9", "x" * 128]
)
def test_plain_ids_are_accepted(upload_id: str) -> None:
    assert validate_upload_id(upload_id) == upload_id


@pytest.mark.parametrize("upload_id", HOSTILE_IDS, ids=repr)
def test_hostile_ids_are_refused_with_a_clear_error(upload_id: object) -> None:
    with pytest.raises(InvalidUploadId) as raised:
        validate_upload_id(upload_id)
    message = str(raised.value)
    assert message.startswith("refusing upload id ")
    assert "letters, digits, '-' and '_'" in message
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, StorageError)
    assert len(message) < 400  # a huge id is not echoed whole


# --- upload sources --------------------------------------------------------------------------


def test_in_memory_source_returns_what_was_put() -> None:
    source = InMemoryUploadSource()
    source.put("u1", job(publishers=(ALICE,)))
    assert source.fetch("u1") == job(publishers=(ALICE,))
    with pytest.raises(UploadNotFound, match="no upload u2 is stored"):
        source.fetch("u2")
    assert isinstance(source, UploadSource)


@pytest.fixture
def uploads(tmp_path: Path) -> DirectoryUploadSource:
    root = tmp_path / "uploads"
    root.mkdir()
    return DirectoryUploadSource(root, max_file_bytes=1024)


def test_directory_source_round_trips_an_upload(uploads: DirectoryUploadSource) -> None:
    stored = job(bundle=b'{"bundle": true}', publishers=(ALICE,))
    directory = uploads.put("u1", stored)
    assert sorted(p.name for p in directory.iterdir()) == [
        "clawft-plugin.toml",
        "demo.wasm",
        "demo.wasm.sigstore.json",
        "publishers.json",
    ]
    assert uploads.fetch("u1") == stored
    assert isinstance(uploads, UploadSource)


def test_directory_source_without_bundle_or_publishers(uploads: DirectoryUploadSource) -> None:
    directory = uploads.put("u1", job())
    (directory / "publishers.json").unlink()
    fetched = uploads.fetch("u1")
    assert fetched.upload.bundle is None and fetched.publishers == ()


def test_directory_source_refuses_hostile_ids_before_touching_disk(
    uploads: DirectoryUploadSource,
) -> None:
    outside = uploads.root.parent / "outside"
    DirectoryUploadSource(uploads.root.parent, max_file_bytes=1024).put("outside", job())
    assert outside.is_dir()
    for upload_id in HOSTILE_IDS:
        with pytest.raises(InvalidUploadId):
            uploads.fetch(upload_id)  # type: ignore[arg-type]
    with pytest.raises(InvalidUploadId):
        uploads.put("../escaped", job())
    assert not (uploads.root.parent / "escaped").exists()


def test_missing_upload_and_missing_root(uploads: DirectoryUploadSource, tmp_path: Path) -> None:
    with pytest.raises(UploadNotFound, match="enqueue only after the commit"):
        uploads.fetch("nothing-here")
    unmounted = DirectoryUploadSource(tmp_path / "not-mounted", max_file_bytes=1024)
    with pytest.raises(StorageUnavailable, match="CLAWFT_UPLOADS_DIR"):
        unmounted.fetch("u1")


def _damage_two_components(directory: Path) -> None:
    (directory / "other.wasm").write_bytes(b"x")


def _damage_no_component(directory: Path) -> None:
    (directory / "demo.wasm").unlink()


def _damage_no_manifest(directory: Path) -> None:
    (directory / "clawft-plugin.toml").unlink()


def _damage_symlinked_component(directory: Path) -> None:
    target = directory.parent / "elsewhere.wasm"
    target.write_bytes(b"x")
    (directory / "demo.wasm").unlink()
    (directory / "demo.wasm").symlink_to(target)


def _damage_oversized_component(directory: Path) -> None:
    (directory / "demo.wasm").write_bytes(b"x" * 1025)


def _damage_publishers_not_json(directory: Path) -> None:
    (directory / "publishers.json").write_text("not json")


def _damage_publisher_without_issuer(directory: Path) -> None:
    (directory / "publishers.json").write_text('[{"identity": "alice@example.com"}]')


def _damage_publisher_empty_identity(directory: Path) -> None:
    (directory / "publishers.json").write_text('[{"identity": "", "issuer": "https://i"}]')


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_damage_two_components, "holds 2 .wasm files"),
        (_damage_no_component, "holds 0 .wasm files"),
        (_damage_no_manifest, "lacks clawft-plugin.toml"),
        (_damage_symlinked_component, "is a symlink; refused"),
        (_damage_oversized_component, "larger than 1,024 bytes"),
        (_damage_publishers_not_json, "publishers.json of upload u1 is not a list"),
        (_damage_publisher_without_issuer, "publishers.json of upload u1 is not a list"),
        (_damage_publisher_empty_identity, "publishers.json of upload u1 is not a list"),
    ],
)
def test_malformed_uploads_are_unreadable(
    uploads: DirectoryUploadSource, damage: Callable[[Path], None], message: str
) -> None:
    damage(uploads.put("u1", job()))
    with pytest.raises(UploadUnreadable, match=message):
        uploads.fetch("u1")


def test_symlinked_upload_directory_is_refused(uploads: DirectoryUploadSource) -> None:
    real = DirectoryUploadSource(uploads.root.parent, max_file_bytes=1024).put("real", job())
    (uploads.root / "u1").symlink_to(real, target_is_directory=True)
    with pytest.raises(UploadUnreadable, match="is a symlink"):
        uploads.fetch("u1")


# --- verdict stores --------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> VerdictSink:
    if request.param == "memory":
        return InMemoryVerdictStore()
    return SqliteVerdictStore(tmp_path / "verdicts.sqlite3")


def test_a_verdict_is_written_once(sink: VerdictSink) -> None:
    assert isinstance(sink, VerdictSink)
    assert sink.recorded_verdict("u1") is None
    sink.mark_verifying("u1")
    first = report("rejected", reason="first")
    assert sink.record("u1", first) is True
    assert sink.recorded_verdict("u1") == "rejected"
    assert sink.record("u1", report("approved", reason="second")) is False
    assert sink.recorded_verdict("u1") == "rejected"
    assert sink.recorded_verdict("u2") is None


@pytest.mark.parametrize("upload_id", HOSTILE_IDS[:8], ids=repr)
def test_verdict_stores_refuse_hostile_ids(sink: VerdictSink, upload_id: str) -> None:
    with pytest.raises(InvalidUploadId):
        sink.recorded_verdict(upload_id)
    with pytest.raises(InvalidUploadId):
        sink.mark_verifying(upload_id)
    with pytest.raises(InvalidUploadId):
        sink.record(upload_id, report())


def test_sqlite_store_keeps_the_first_report_and_counts_attempts(tmp_path: Path) -> None:
    store = SqliteVerdictStore(tmp_path / "verdicts.sqlite3")
    assert store.status("u1") is None
    store.mark_verifying("u1")
    store.mark_verifying("u1")
    assert store.status("u1") == ("verifying", 2)
    first = report("approved", reason="first")
    assert store.record("u1", first)
    assert not store.record("u1", report("rejected", reason="second"))
    assert store.report("u1") == first
    assert store.verdict_count("u1") == 1
    store.mark_verifying("u1")  # a late redelivery does not reopen a decided upload
    assert store.status("u1") == ("approved", 3)
    # Another process (a new store object) sees the same rows.
    assert SqliteVerdictStore(store.path).recorded_verdict("u1") == "approved"
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_store_records_once_under_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.sqlite3"
    SqliteVerdictStore(path).status("u1")  # schema first, as a worker's first call would
    start = threading.Barrier(8)

    def write(n: int) -> bool:
        store = SqliteVerdictStore(path)
        start.wait(timeout=10)
        return store.record("u1", report(reason=f"writer {n}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(pool.map(write, range(8), timeout=30))
    assert written.count(True) == 1
    assert SqliteVerdictStore(path).verdict_count("u1") == 1


def test_sqlite_store_reports_a_locked_database_as_unavailable(tmp_path: Path) -> None:
    store = SqliteVerdictStore(tmp_path / "verdicts.sqlite3", busy_timeout_s=0.1)
    store.status("u1")
    lock = sqlite3.connect(store.path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StorageUnavailable, match="database is locked"):
            store.record("u1", report())
        assert store.recorded_verdict("u1") is None  # readers are not blocked (WAL)
    finally:
        lock.close()
    assert store.record("u1", report())


def test_sqlite_store_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    store = SqliteVerdictStore(tmp_path / "not-mounted" / "verdicts.sqlite3")
    with pytest.raises(StorageUnavailable, match="check that its directory exists"):
        store.recorded_verdict("u1")
    (tmp_path / "not-mounted").mkdir()
    assert store.recorded_verdict("u1") is None


def test_stored_report_is_the_report_json(tmp_path: Path) -> None:
    store = SqliteVerdictStore(tmp_path / "verdicts.sqlite3")
    written = report("rejected", reason="bad")
    store.record("u1", written)
    with sqlite3.connect(store.path) as db:
        (raw,) = db.execute("SELECT report FROM verdicts WHERE upload_id = 'u1'").fetchone()
    assert raw == written.to_json()
    assert msgspec.json.decode(raw)["verdict"] == "rejected"
