"""Where the verification task gets an upload's bytes and where it records the verdict.

Two seams, each a ``typing.Protocol`` the registry implements over its database and object
store (the task never imports the registry):

* :class:`UploadSource` — ``fetch(upload_id)`` returns a :class:`UploadToVerify`: the upload's
  bytes (a :class:`~verifier.pipeline.PluginUpload`) and the trusted publishers of its namespace.
* :class:`VerdictSink` — ``recorded_verdict``, ``mark_verifying`` and ``record``. ``record`` is
  write-once: the first verdict for an upload wins and later calls return ``False``, so a task
  that runs twice (a worker killed after recording but before acknowledging) leaves one verdict.

Implementations here: in-memory ones for unit tests, and two cross-process ones that real
worker processes share: :class:`DirectoryUploadSource` (one directory per upload) and
:class:`SqliteVerdictStore` (WAL, primary key on the upload id).

Errors (every message says what to do)::

    StorageError
    ├── InvalidUploadId    the id is malformed or hostile (e.g. "../x"): refused, never retried
    ├── UploadNotFound     no upload has this id: never retried, no verdict is written
    ├── UploadUnreadable   the stored upload is malformed (a registry bug): never retried
    └── StorageUnavailable   the store or database could not be reached: transient, retried
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import msgspec

from client.decoding import decode_json
from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME
from client.signing import TrustedPublisher
from verifier.pipeline import PluginUpload
from verifier.report import Verdict, VerificationReport

PUBLISHERS_FILE_NAME = "publishers.json"
MAX_UPLOAD_ID_CHARS = 128
_UPLOAD_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_UPLOAD_ID_CHARS - 1}}}")


class StorageError(Exception):
    """Base of the storage errors; ``str()`` is meant for the operator."""


class InvalidUploadId(StorageError, ValueError):
    """The upload id is not a plain identifier; it is refused before touching any store."""


class UploadNotFound(StorageError):
    """No upload is stored under this id (deleted, or never committed)."""


class UploadUnreadable(StorageError):
    """The stored upload exists but is malformed; retrying cannot help."""


class StorageUnavailable(StorageError):
    """The object store or database could not be reached; the operation may be retried."""


def validate_upload_id(upload_id: object) -> str:
    """``upload_id`` if it is 1-128 characters of ``[A-Za-z0-9_-]``, starting alphanumeric."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        shown = repr(upload_id)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InvalidUploadId(
            f"refusing upload id {shown}: an upload id is 1-{MAX_UPLOAD_ID_CHARS} characters of "
            "letters, digits, '-' and '_', starting with a letter or digit; enqueue the id the "
            "registry assigned to the upload"
        )
    return upload_id


@dataclass(frozen=True, slots=True)
class UploadToVerify:
    """What one verification needs: the upload's bytes and its namespace's trusted publishers."""

    upload: PluginUpload
    publishers: tuple[TrustedPublisher, ...] = ()


@runtime_checkable
class UploadSource(Protocol):
    def fetch(self, upload_id: str) -> UploadToVerify:
        """The upload's bytes and publishers.

        Raises :class:`UploadNotFound`, :class:`UploadUnreadable` (permanent) or
        :class:`StorageUnavailable` (transient)."""
        ...


@runtime_checkable
class VerdictSink(Protocol):
    def recorded_verdict(self, upload_id: str) -> Verdict | None:
        """The verdict already recorded for this upload, or ``None``."""
        ...

    def mark_verifying(self, upload_id: str) -> None:
        """Note that an attempt started (``pending → verifying``); once per attempt.

        Never moves an upload that already has a verdict back to ``verifying``."""
        ...

    def record(self, upload_id: str, report: VerificationReport) -> bool:
        """Record the verdict and report, once: ``False`` (and no change) if one exists.

        Raises :class:`StorageUnavailable` when the database cannot be reached."""
        ...


class InMemoryUploadSource:
    """Uploads held in a dict, for unit tests."""

    def __init__(self) -> None:
        self._jobs: dict[str, UploadToVerify] = {}
        self.fetches: list[str] = []

    def put(self, upload_id: str, job: UploadToVerify) -> None:
        self._jobs[validate_upload_id(upload_id)] = job

    def fetch(self, upload_id: str) -> UploadToVerify:
        self.fetches.append(validate_upload_id(upload_id))
        try:
            return self._jobs[upload_id]
        except KeyError:
            raise UploadNotFound(_not_found(upload_id)) from None


class InMemoryVerdictStore:
    """Verdicts held in dicts, for unit tests; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reports: dict[str, VerificationReport] = {}
        self.attempts: dict[str, int] = {}

    def recorded_verdict(self, upload_id: str) -> Verdict | None:
        report = self.reports.get(validate_upload_id(upload_id))
        return report.verdict if report else None

    def mark_verifying(self, upload_id: str) -> None:
        with self._lock:
            self.attempts[upload_id] = self.attempts.get(validate_upload_id(upload_id), 0) + 1

    def record(self, upload_id: str, report: VerificationReport) -> bool:
        with self._lock:
            if validate_upload_id(upload_id) in self.reports:
                return False
            self.reports[upload_id] = report
            return True


class _PublisherEntry(msgspec.Struct, forbid_unknown_fields=True):
    identity: str
    issuer: str


class DirectoryUploadSource:
    """One directory per upload id under ``root``.

    Layout of ``root/<upload id>/``: ``clawft-plugin.toml``, exactly one ``*.wasm`` file (the
    component, under its uploaded name), optionally ``<component>.sigstore.json`` (the bundle),
    and optionally ``publishers.json`` (``[{"identity": ..., "issuer": ...}]``; absent: none).
    Files are read without following symlinks, each up to ``max_file_bytes``.
    """

    def __init__(self, root: Path, *, max_file_bytes: int) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes

    def fetch(self, upload_id: str) -> UploadToVerify:
        directory = self._directory(upload_id)
        try:
            components = sorted(p.name for p in directory.iterdir() if p.suffix == ".wasm")
            if len(components) != 1:
                raise UploadUnreadable(
                    f"upload {upload_id} holds {len(components)} .wasm files in {directory}; "
                    "it must hold exactly one, the component: re-store the upload"
                )
            (component_name,) = components
            manifest = self._read(directory / MANIFEST_FILE_NAME, upload_id)
            component = self._read(directory / component_name, upload_id)
            bundle_path = directory / f"{component_name}{BUNDLE_SUFFIX}"
            bundle = self._read(bundle_path, upload_id) if bundle_path.exists() else None
            publishers_path = directory / PUBLISHERS_FILE_NAME
            publishers = (
                _parse_publishers(self._read(publishers_path, upload_id), upload_id)
                if publishers_path.exists()
                else ()
            )
        except FileNotFoundError as exc:
            raise UploadUnreadable(
                f"upload {upload_id} lacks {Path(exc.filename or '?').name} in {directory}: "
                "the registry stores it with every upload; re-store the upload"
            ) from None
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot read upload {upload_id} from {directory}: {exc}"
            ) from exc
        upload = PluginUpload(
            manifest=manifest, component=component, component_name=component_name, bundle=bundle
        )
        return UploadToVerify(upload=upload, publishers=publishers)

    def put(self, upload_id: str, job: UploadToVerify) -> Path:
        """Store ``job`` under ``upload_id`` (all files appear at once); for tests and tools."""
        if not self.root.is_dir():
            raise StorageUnavailable(_no_root(self.root))
        final = self.root / validate_upload_id(upload_id)
        staging = Path(tempfile.mkdtemp(prefix=f".{upload_id}.", dir=self.root))
        try:
            upload = job.upload
            (staging / MANIFEST_FILE_NAME).write_bytes(upload.manifest)
            (staging / upload.component_name).write_bytes(upload.component)
            if upload.bundle is not None:
                (staging / f"{upload.component_name}{BUNDLE_SUFFIX}").write_bytes(upload.bundle)
            entries = [_PublisherEntry(p.identity, p.issuer) for p in job.publishers]
            (staging / PUBLISHERS_FILE_NAME).write_bytes(msgspec.json.encode(entries))
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def _directory(self, upload_id: str) -> Path:
        directory = self.root / validate_upload_id(upload_id)
        try:
            if directory.is_symlink():
                raise UploadUnreadable(f"upload {upload_id} is a symlink ({directory}); refused")
            if directory.is_dir():
                return directory
            if not self.root.is_dir():
                raise StorageUnavailable(_no_root(self.root))
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot reach upload {upload_id} in {self.root}: {exc}"
            ) from exc
        raise UploadNotFound(_not_found(upload_id))

    def _read(self, path: Path, upload_id: str) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UploadUnreadable(
                    f"{path} of upload {upload_id} is a symlink; refused"
                ) from None
            raise
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(self.max_file_bytes + 1)
        if len(data) > self.max_file_bytes:
            raise UploadUnreadable(
                f"{path.name} of upload {upload_id} is larger than {self.max_file_bytes:,} bytes; "
                "the registry refuses such uploads, so this one was stored by mistake"
            )
        return data


def _parse_publishers(data: bytes, upload_id: str) -> tuple[TrustedPublisher, ...]:
    try:
        entries = decode_json(data, type=list[_PublisherEntry], what=PUBLISHERS_FILE_NAME)
        return tuple(TrustedPublisher(identity=e.identity, issuer=e.issuer) for e in entries)
    except ValueError as exc:  # Undecodable, or a publisher TrustedPublisher refuses
        raise UploadUnreadable(
            f"{PUBLISHERS_FILE_NAME} of upload {upload_id} is not a list of "
            f'{{"identity": ..., "issuer": ...}} objects ({exc}); re-store the upload'
        ) from None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    upload_id   TEXT PRIMARY KEY,
    verdict     TEXT NOT NULL CHECK (verdict IN ('approved', 'rejected')),
    report      BLOB NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verification_status (
    upload_id  TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('verifying', 'approved', 'rejected')),
    attempts   INTEGER NOT NULL,
    changed_at REAL NOT NULL
);
"""


class SqliteVerdictStore:
    """Verdicts in a SQLite file shared by worker processes (WAL; one connection per call).

    ``verdicts`` has one row per upload (primary key, ``INSERT ... ON CONFLICT DO NOTHING``);
    ``verification_status`` counts attempts. Lock waits longer than ``busy_timeout_s`` and
    unopenable files raise :class:`StorageUnavailable`.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._schema_ready = False

    def recorded_verdict(self, upload_id: str) -> Verdict | None:
        validate_upload_id(upload_id)
        with self._connection() as db:
            row = db.execute("SELECT verdict FROM verdicts WHERE upload_id = ?", (upload_id,))
            found = row.fetchone()
        return None if found is None else _verdict(found[0])

    def mark_verifying(self, upload_id: str) -> None:
        validate_upload_id(upload_id)
        with self._connection() as db:
            db.execute(
                "INSERT INTO verification_status (upload_id, status, attempts, changed_at) "
                "VALUES (?, 'verifying', 1, ?) ON CONFLICT (upload_id) DO UPDATE SET "
                "attempts = attempts + 1, changed_at = excluded.changed_at",
                (upload_id, time.time()),
            )

    def record(self, upload_id: str, report: VerificationReport) -> bool:
        validate_upload_id(upload_id)
        now = time.time()
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            inserted = db.execute(
                "INSERT INTO verdicts (upload_id, verdict, report, recorded_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (upload_id) DO NOTHING",
                (upload_id, report.verdict, report.to_json(), now),
            ).rowcount
            if inserted:
                db.execute(
                    "INSERT INTO verification_status (upload_id, status, attempts, changed_at) "
                    "VALUES (?, ?, 0, ?) ON CONFLICT (upload_id) DO UPDATE SET "
                    "status = excluded.status, changed_at = excluded.changed_at",
                    (upload_id, report.verdict, now),
                )
            db.execute("COMMIT")
        return inserted == 1

    def report(self, upload_id: str) -> VerificationReport | None:
        """The recorded report, as stored."""
        validate_upload_id(upload_id)
        with self._connection() as db:
            found = db.execute(
                "SELECT report FROM verdicts WHERE upload_id = ?", (upload_id,)
            ).fetchone()
        return None if found is None else VerificationReport.from_json(found[0])

    def status(self, upload_id: str) -> tuple[str, int] | None:
        """``(status, attempts)`` of an upload the store has seen."""
        validate_upload_id(upload_id)
        with self._connection() as db:
            found = db.execute(
                "SELECT status, attempts FROM verification_status WHERE upload_id = ?",
                (upload_id,),
            ).fetchone()
        return None if found is None else (str(found[0]), int(found[1]))

    def verdict_count(self, upload_id: str) -> int:
        validate_upload_id(upload_id)
        with self._connection() as db:
            found = db.execute(
                "SELECT COUNT(*) FROM verdicts WHERE upload_id = ?", (upload_id,)
            ).fetchone()
        return int(found[0])

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            # isolation_level=None: statements autocommit unless a BEGIN is issued.
            connection = sqlite3.connect(
                self.path, timeout=self.busy_timeout_s, isolation_level=None
            )
            with closing(connection) as db:
                if not self._schema_ready:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                    self._schema_ready = True
                yield db
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(
                f"the verdict database {self.path} is unavailable ({exc}); check that its "
                "directory exists and is writable, and that no process holds a long lock"
            ) from exc


def _verdict(value: object) -> Verdict:
    if value == "approved":
        return "approved"
    if value == "rejected":
        return "rejected"
    raise StorageError(f"the verdict database holds an unknown verdict {value!r}: repair the row")


def _not_found(upload_id: str) -> str:
    return (
        f"no upload {upload_id} is stored: it was deleted, or the task was enqueued before the "
        "upload was committed (enqueue only after the commit)"
    )


def _no_root(root: Path) -> str:
    return (
        f"the uploads directory {root} does not exist or is not mounted; create or mount it, "
        "or point CLAWFT_UPLOADS_DIR at it"
    )


__all__ = [
    "PUBLISHERS_FILE_NAME",
    "DirectoryUploadSource",
    "InMemoryUploadSource",
    "InMemoryVerdictStore",
    "InvalidUploadId",
    "SqliteVerdictStore",
    "StorageError",
    "StorageUnavailable",
    "UploadNotFound",
    "UploadSource",
    "UploadToVerify",
    "UploadUnreadable",
    "VerdictSink",
    "validate_upload_id",
]
