"""``read-file`` / ``write-file`` inside the plugin's own data directory.

A path is permitted when it is relative, has no ``..`` or empty parts, and lies under one of
the prefixes the manifest declares. Opening walks the path one component at a time with
``O_NOFOLLOW`` relative to a directory descriptor of the data directory, so no symbolic link is
ever followed and no rename race can lead outside (the check and the open are the same step).
Writes go to a temporary file that is renamed into place: a failed write loses nothing.

What a plugin keeps in its data directory is bounded by a quota of bytes and of entries
(files and directories): empty files and directories cost nothing in bytes, so without the
second a plugin could make a million inodes in seconds. The directory is measured on the first
write (a bounded walk) and every write is charged, before it happens, for the directories it
creates, the file it adds and the bytes it grows the directory by.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from client.host.sandbox.decisions import HostCallFailed, PolicyDenied
from client.host.settings import DataQuota
from client.manifest import parse_filesystem_entry

MAX_PATH_CHARS = 1024
MAX_PATH_PARTS = 32

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _parts(path: str) -> tuple[str, ...]:
    """The components of a plugin-supplied relative path; refuses anything that could escape."""
    if not path or len(path) > MAX_PATH_CHARS:
        raise PolicyDenied(f"path must be 1 to {MAX_PATH_CHARS} characters")
    if "\x00" in path or "\\" in path:
        raise PolicyDenied(f"path {path!r} contains a NUL byte or a backslash")
    if path.startswith("/"):
        raise PolicyDenied(
            f"absolute path {path!r} refused: paths are relative to the data directory"
        )
    parts = PurePosixPath(path).parts
    if any(part in ("..", ".") for part in path.split("/")):
        raise PolicyDenied(f"path {path!r} refused: '..' and '.' components are not allowed")
    if not parts or len(parts) > MAX_PATH_PARTS:
        raise PolicyDenied(f"path {path!r} refused: at most {MAX_PATH_PARTS} components")
    return parts


class _Usage:
    """The data directory's bytes and entries as last measured and charged since."""

    def __init__(self, byte_count: int, entries: int) -> None:
        self.bytes = byte_count
        self.entries = entries


def measure_directory(directory: Path, *, stop_after_entries: int) -> _Usage:
    """Bytes of regular files and count of entries under ``directory`` (links not followed);
    the walk stops once past ``stop_after_entries`` (the count is then only known to be
    larger)."""
    usage = _Usage(0, 0)
    pending = [directory]
    while pending and usage.entries <= stop_after_entries:
        try:
            with os.scandir(pending.pop()) as listing:
                for entry in listing:
                    usage.entries += 1
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        usage.bytes += entry.stat(follow_symlinks=False).st_size
                    if usage.entries > stop_after_entries:
                        break
        except OSError:
            continue
    return usage


class PluginFiles:
    """File access of one plugin: ``data_dir`` plus the declared prefixes inside it."""

    def __init__(
        self,
        data_dir: Path | None,
        declared: Iterable[str],
        *,
        max_read_bytes: int,
        max_write_bytes: int,
        write_budget: int | None = None,
        quota: DataQuota | None = None,
        durable: bool = True,
    ) -> None:
        self._data_dir = data_dir
        self._quota = quota or DataQuota()
        self._usage: _Usage | None = None
        """Measured on the first write that needs it."""
        # The manifest's parser: the verifier judged the same parts (a bad entry raises).
        self._prefixes = [parse_filesystem_entry(entry) for entry in declared]
        self._max_read = max_read_bytes
        self._max_write = max_write_bytes
        self._write_budget = write_budget
        self._written = 0
        self._budget_lock = threading.Lock()
        self._durable = durable

    def _check(self, path: str) -> tuple[str, ...]:
        parts = _parts(path)
        if self._data_dir is None:
            raise PolicyDenied("this plugin has no data directory; file access is disabled")
        if not any(parts[: len(prefix)] == prefix for prefix in self._prefixes):
            raise PolicyDenied(
                f"path {path!r} is outside the paths declared in the manifest's "
                "[permissions] filesystem"
            )
        return parts

    @contextlib.contextmanager
    def _parent_fd(self, parts: tuple[str, ...], *, create: bool) -> Iterator[int]:
        """A descriptor of the directory holding ``parts[-1]``, reached without following links."""
        if self._data_dir is None:
            raise PolicyDenied("this plugin has no data directory; file access is disabled")
        try:
            fd = os.open(self._data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise HostCallFailed(f"data directory is not available: {exc.strerror}") from None
        try:
            for part in parts[:-1]:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                try:
                    next_fd = os.open(part, _O_DIR, dir_fd=fd)
                except OSError as exc:
                    raise _translate(exc, "/".join(parts), part, fd) from None
                os.close(fd)
                fd = next_fd
            yield fd
        finally:
            os.close(fd)

    def read(self, path: str) -> str:
        parts = self._check(path)
        with self._parent_fd(parts, create=False) as dir_fd:
            # O_NONBLOCK: opening a FIFO must not hang the host; non-regular files are refused.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(parts[-1], flags, dir_fd=dir_fd)
            except OSError as exc:
                raise _translate(exc, path, parts[-1], dir_fd) from None
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise PolicyDenied(f"{path!r} is not a regular file")
                data = handle.read(self._max_read + 1)
        if len(data) > self._max_read:
            raise HostCallFailed(f"{path!r} is larger than the {self._max_read:,}-byte read limit")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise HostCallFailed(f"{path!r} is not UTF-8 text") from None

    def write(self, path: str, content: str) -> None:
        parts = self._check(path)
        if len(content) > self._max_write:  # a character is at least one byte: refuse unencoded
            raise PolicyDenied(
                f"write of over {self._max_write:,} bytes refused: the limit is "
                f"{self._max_write:,} bytes"
            )
        data = content.encode("utf-8")
        if len(data) > self._max_write:
            raise PolicyDenied(
                f"write of {len(data):,} bytes refused: the limit is {self._max_write:,} bytes"
            )
        self._spend(len(data))
        try:
            self._write(parts, path, data)
        except BaseException:
            self._spend(-len(data))
            raise

    def _charge(self, *, byte_count: int = 0, entries: int = 0) -> None:
        """Count a change of the data directory against its quota (negative: a refund)."""
        quota = self._quota
        if (quota.bytes is None and quota.entries is None) or self._data_dir is None:
            return
        with self._budget_lock:
            if self._usage is None:
                limit = quota.entries if quota.entries is not None else 1 << 62
                self._usage = measure_directory(self._data_dir, stop_after_entries=limit)
            usage = self._usage
            if (
                entries > 0
                and quota.entries is not None
                and usage.entries + entries > quota.entries
            ):
                raise HostCallFailed(
                    f"the data directory holds {usage.entries:,} files and directories, its "
                    f"quota: remove some before adding more"
                    if usage.entries >= quota.entries
                    else f"the write would take the data directory past its quota of "
                    f"{quota.entries:,} files and directories"
                )
            if (
                byte_count > 0
                and quota.bytes is not None
                and usage.bytes + byte_count > quota.bytes
            ):
                raise HostCallFailed(
                    f"the write would take the data directory to {usage.bytes + byte_count:,} "
                    f"bytes, past its quota of {quota.bytes:,}"
                )
            usage.bytes += byte_count
            usage.entries += entries

    def _spend(self, size: int) -> None:
        """Count ``size`` bytes against the write budget (a negative size refunds)."""
        if self._write_budget is None:
            return
        with self._budget_lock:
            if size > 0 and self._written + size > self._write_budget:
                raise HostCallFailed(
                    f"write of {size:,} bytes refused: this plugin has written "
                    f"{self._written:,} of the {self._write_budget:,} bytes it may write"
                )
            self._written += size

    def _write(self, parts: tuple[str, ...], path: str, data: bytes) -> None:
        # Directories to make, and then the file: charged before anything is made, so a write
        # the quota refuses leaves nothing behind.
        missing = self._missing_directories(parts)
        if missing:
            self._charge(byte_count=len(data), entries=missing + 1)
        try:
            with self._parent_fd(parts, create=True) as dir_fd:
                self._write_in(dir_fd, parts[-1], path, data, charged=bool(missing))
        except BaseException:
            if missing:
                self._charge(byte_count=-len(data), entries=-(missing + 1))
            raise

    def _write_in(self, dir_fd: int, name: str, path: str, data: bytes, *, charged: bool) -> None:
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise PolicyDenied(f"{path!r} exists and is not a regular file")
        grown = 0 if charged else len(data) - (existing.st_size if existing is not None else 0)
        added = 0 if charged or existing is not None else 1
        self._charge(byte_count=grown, entries=added)
        try:
            self._replace(dir_fd, name, path, data)
        except BaseException:
            self._charge(byte_count=-grown, entries=-added)
            raise

    def _missing_directories(self, parts: tuple[str, ...]) -> int:
        """How many of the directories leading to ``parts[-1]`` do not exist yet."""
        if self._data_dir is None or (self._quota.bytes is None and self._quota.entries is None):
            return 0
        try:
            fd = os.open(self._data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return 0  # the write will say why
        try:
            for index, part in enumerate(parts[:-1]):
                try:
                    next_fd = os.open(part, _O_DIR, dir_fd=fd)
                except FileNotFoundError:
                    return len(parts) - 1 - index
                except OSError:
                    return 0  # a link or a file in the way: the write refuses it
                os.close(fd)
                fd = next_fd
            return 0
        finally:
            os.close(fd)

    def _replace(self, dir_fd: int, name: str, path: str, data: bytes) -> None:
        """Write ``data`` to a temporary file and rename it over ``name``, atomically."""
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(
            temp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dir_fd,
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if self._durable:
                    os.fsync(handle.fileno())
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise HostCallFailed(f"cannot write {path!r}: {exc.strerror}") from None


def _is_symlink(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _translate(exc: OSError, path: str, name: str, dir_fd: int) -> Exception:
    """Turn an ``open`` failure into the sandbox's two outcomes."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_symlink(name, dir_fd):
        return PolicyDenied(f"{path!r} refused: symbolic links are not followed")
    if exc.errno == errno.ENOENT:
        return HostCallFailed(f"{path!r} does not exist")
    if exc.errno == errno.EISDIR:
        return HostCallFailed(f"{path!r} is a directory")
    return HostCallFailed(f"cannot open {path!r}: {exc.strerror}")
