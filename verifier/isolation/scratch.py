"""Scratch directories: the data directory plugins get while the verifier runs them.

Each isolation child has one, made and owned by its parent process. The parent holds an
exclusive ``flock`` on it for as long as the directory is in use, so a directory nobody holds
is one whose owner died without removing it (a worker SIGKILLed with its whole process group):
:func:`sweep_abandoned`, run before each new child starts, removes those. A lock, unlike a
process id, is right across PID namespaces that share ``/dev/shm`` and never names a stranger.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from verifier.settings import IsolationLimits

PREFIX = "clawft-verify-"
MEMORY_BACKED_TMP = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a private directory there)
SCRATCH_HEADROOM = 16
"""The memory-backed directory is used only with room for this many full scratch budgets (a
container's default 64 MB one is not, and what else uses it keeps its space)."""
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def scratch_root(limits: IsolationLimits) -> Path:
    """Where scratch directories go: the configured root, else a memory-backed one when the
    system has one with room to spare (a plugin's writes then cost no disk I/O), else the
    temp directory."""
    if limits.scratch_root is not None:
        return limits.scratch_root
    fallback = Path(tempfile.gettempdir())
    if not (MEMORY_BACKED_TMP.is_dir() and os.access(MEMORY_BACKED_TMP, os.W_OK | os.X_OK)):
        return fallback
    try:
        space = os.statvfs(MEMORY_BACKED_TMP)
    except OSError:
        return fallback
    room = space.f_bavail * space.f_frsize
    return MEMORY_BACKED_TMP if room >= SCRATCH_HEADROOM * limits.scratch_bytes else fallback


class ScratchDirectory:
    """A fresh private directory under ``root``, locked until :meth:`remove`."""

    def __init__(self, root: Path) -> None:
        for _attempt in range(3):
            path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
            try:
                fd = os.open(path, _DIRECTORY_FLAGS)
            except OSError:
                continue  # swept by another process in the instant before it was locked
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.path = path
            self._fd: int | None = fd
            return
        raise OSError(f"could not make a scratch directory in {root}")

    def remove(self) -> None:
        """Delete the directory and everything in it, then let go of its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def sweep_abandoned(root: Path) -> list[Path]:
    """Remove this user's scratch directories under ``root`` that no process holds."""
    removed: list[Path] = []
    try:
        candidates = [entry for entry in root.iterdir() if entry.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in candidates:
        try:
            fd = os.open(entry, _DIRECTORY_FLAGS)
        except OSError:
            continue  # gone, a link, or not ours to open
        try:
            if os.fstat(fd).st_uid != os.getuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
    return removed
