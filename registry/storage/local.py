"""A :class:`~registry.storage.base.BlobStore` in a local directory (the embedded default).

Layout under ``root``::

    blobs/sha256/<hex>   the blobs, mode 0o444 (read-only once written); directories 0o755
    tmp/                 writes in progress, mode 0o700; a crash can leave files here (never at
                         an address): ``remove_stale_temporaries`` sweeps them

A write goes to a temporary file in ``tmp/`` while hashing, is fsynced, and is then hard-linked
to its address: ``link`` fails if the address exists, so an existing blob is never replaced and
concurrent writers of the same content end with one intact blob. The directory is fsynced after
the link and after a delete. The store refuses to follow symlinks: its directories must be real
directories and blob files are opened with ``O_NOFOLLOW``. ``root`` itself is resolved once,
when the store is built.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from registry.storage._streaming import check_put_arguments, write_hashed
from registry.storage.base import (
    BLOB_PREFIX,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    StorageUnavailable,
    StoreCorrupted,
    validate_sha256,
)

BLOB_FILE_MODE = 0o444
BLOB_DIR_MODE = 0o755
TMP_DIR_MODE = 0o700
_TMP_SUFFIX = ".partial"
_HARD_LINKS_UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


class LocalDirectoryBlobStore(BlobStore):
    """Blobs as files under ``root``; creates its directories when built."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._blob_dir = self.root.joinpath(*BLOB_PREFIX.strip("/").split("/"))
        self._tmp_dir = self.root / "tmp"
        try:
            _make_dir(self.root, BLOB_DIR_MODE, parents=True)
            _make_dir(self._blob_dir.parent, BLOB_DIR_MODE)
            _make_dir(self._blob_dir, BLOB_DIR_MODE)
            _make_dir(self._tmp_dir, TMP_DIR_MODE)
        except OSError as error:
            raise self._unavailable("cannot create the store's directories", error) from error
        self._check_directories()

    def __repr__(self) -> str:
        return f"LocalDirectoryBlobStore(root={str(self.root)!r})"

    # -- writing ---------------------------------------------------------------------------

    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int, expected_sha256: str | None = None
    ) -> BlobInfo:
        expected = check_put_arguments(max_bytes, expected_sha256)
        try:
            fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix="put-", suffix=_TMP_SUFFIX)
        except OSError as error:
            raise self._unavailable("cannot create a temporary file", error) from error
        temporary = Path(name)
        try:
            with os.fdopen(fd, "wb") as file:

                def write(chunk: bytes) -> None:
                    try:
                        file.write(chunk)
                    except OSError as error:
                        raise self._unavailable("cannot write a blob", error) from error

                info = write_hashed(chunks, write, max_bytes=max_bytes, expected_sha256=expected)
                try:
                    file.flush()
                    os.fsync(file.fileno())
                except OSError as error:
                    raise self._unavailable("cannot write a blob", error) from error
            try:
                temporary.chmod(BLOB_FILE_MODE)
                self._publish(temporary, info)
            except OSError as error:
                raise self._unavailable(f"cannot store blob sha256 {info.sha256}", error) from error
        finally:
            temporary.unlink(missing_ok=True)
        return info

    def _publish(self, temporary: Path, info: BlobInfo) -> None:
        """Make the fsynced temporary file visible at the blob's address, never replacing one."""
        target = self._blob_dir / info.sha256
        try:
            os.link(temporary, target, follow_symlinks=False)
        except FileExistsError:
            self._check_existing(info)  # already stored: same content, same address
            return
        except OSError as error:
            if error.errno not in _HARD_LINKS_UNSUPPORTED:
                raise
            # A filesystem without hard links: rename is atomic too, but it can replace a blob
            # a concurrent writer just stored, with identical bytes.
            if self.stat(info.sha256) is not None:
                self._check_existing(info)
                return
            temporary.replace(target)
        _fsync_directory(self._blob_dir)

    def _check_existing(self, info: BlobInfo) -> None:
        stored = self.stat(info.sha256)
        if stored is None or stored.size != info.size:
            raise StoreCorrupted(
                f"{self._blob_dir / info.sha256} should hold {info.size} bytes with sha256 "
                f"{info.sha256} but holds {'nothing' if stored is None else stored.size}; "
                "delete it so the blob can be uploaded again"
            )

    # -- reading ---------------------------------------------------------------------------

    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        path = self._blob_dir / validate_sha256(sha256)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(path, flags)
        except FileNotFoundError as error:
            raise BlobNotFound(f"no blob sha256 {sha256} in {self._blob_dir}") from error
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise self._not_a_blob(path) from error
            raise self._unavailable(f"cannot read blob sha256 {sha256}", error) from error
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            raise self._not_a_blob(path)
        return os.fdopen(fd, "rb"), status.st_size

    def stat(self, sha256: str) -> BlobInfo | None:
        path = self._blob_dir / validate_sha256(sha256)
        try:
            status = path.lstat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._unavailable(f"cannot stat blob sha256 {sha256}", error) from error
        if not stat.S_ISREG(status.st_mode):
            raise self._not_a_blob(path)
        return BlobInfo(sha256=sha256, size=status.st_size)

    def file_path(self, sha256: str) -> Path | None:
        info = self.stat(sha256)
        return None if info is None else self._blob_dir / info.sha256

    def iter_digests(self) -> Iterator[str]:
        try:
            with os.scandir(self._blob_dir) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if entry.is_file(follow_symlinks=False) and _is_digest(entry.name)
                ]
        except OSError as error:
            raise self._unavailable("cannot list the blobs", error) from error
        return iter(names)

    # -- maintenance -----------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        path = self._blob_dir / validate_sha256(sha256)
        try:
            path.unlink(missing_ok=True)
            _fsync_directory(self._blob_dir)
        except OSError as error:
            raise self._unavailable(f"cannot delete blob sha256 {sha256}", error) from error

    def check(self) -> None:
        self._check_directories()
        try:
            with tempfile.TemporaryFile(dir=self._tmp_dir, prefix="check-") as probe:
                probe.write(b"ok")
        except OSError as error:
            raise self._unavailable("cannot write to the store", error) from error

    def remove_stale_temporaries(self, *, older_than_s: float) -> int:
        """Delete writes in progress older than ``older_than_s`` (left by a crash); count them."""
        cutoff = time.time() - older_than_s
        removed = 0
        with os.scandir(self._tmp_dir) as entries:
            for entry in entries:
                if (
                    entry.name.endswith(_TMP_SUFFIX)
                    and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff
                ):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    # -- errors ----------------------------------------------------------------------------

    def _check_directories(self) -> None:
        for directory in (self._blob_dir.parent, self._blob_dir, self._tmp_dir):
            try:
                mode = directory.lstat().st_mode
            except OSError as error:
                raise self._unavailable(f"cannot use {directory}", error) from error
            if not stat.S_ISDIR(mode):
                raise StoreCorrupted(
                    f"{directory} is not a directory (a symlink?); the blob store never follows "
                    "links out of its root: replace it with a real directory"
                )

    def _unavailable(self, action: str, error: OSError) -> StorageUnavailable:
        reason = error.strerror or str(error)
        return StorageUnavailable(
            f"local blob store at {self.root}: {action}: {reason}; check that the disk is "
            "mounted, writable and not full, or point CLAWFT_STORAGE_DIR at another directory"
        )

    def _not_a_blob(self, path: Path) -> StoreCorrupted:
        return StoreCorrupted(
            f"{path} is not a regular file (a symlink?); the blob store never follows links: "
            "remove it so the blob can be uploaded again"
        )


def _make_dir(path: Path, mode: int, *, parents: bool = False) -> None:
    try:
        path.mkdir(mode=mode, parents=parents)
    except FileExistsError:
        return
    path.chmod(mode)  # mkdir's mode is masked by the umask


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_digest(name: str) -> bool:
    try:
        validate_sha256(name)
    except ValueError:
        return False
    return True
