"""Generations: how an edge device installs a new set of plugins atomically.

Layout under a destination directory ``DEST``::

    DEST/generations/<n>/<namespace>/<name>/<file>   one complete plugin set per generation
    DEST/generations/<n>/generation.json             what the set holds (InstalledPlugin records)
    DEST/current  -> generations/<n>                 the set the device runs
    DEST/previous -> generations/<m>                 the set before it, kept for rollback
    DEST/generations/.staging-<random>/              a set being built
    DEST/.lock                                       flock-ed while a set is staged or rolled back

Generation numbers only grow: a new one is one more than any generation directory on disk, and
the largest is always current or previous (or a newer one a crash left behind), so no number is
used twice.

The ordering rules of :meth:`Staging.commit`; each step is durable before the next starts, so a
crash or power loss anywhere leaves ``current`` on a complete generation:

1. every staged file is fsynced, then ``generation.json`` is written and fsynced, then every
   staged directory;
2. the staging directory is renamed to ``generations/<n>`` and ``generations/`` is fsynced.
   Until here nothing the device reads has changed;
3. ``previous`` is pointed at the generation ``current`` names (one ``os.replace`` of a fresh
   temporary link) and ``DEST`` fsynced: a crash now leaves current == previous, the old set;
4. ``current`` is pointed at ``generations/<n>`` the same way and ``DEST`` fsynced: the new set
   is live;
5. every generation other than current and previous is renamed aside and removed (a failure here
   is logged and retried by the next commit).

:meth:`Generations.rollback` replaces ``current`` first, then ``previous``: a crash between the
two leaves both on the generation rolled back to.

Nothing on disk is trusted: a link must read exactly ``generations/<n>`` with no symbolic link on
the way, ``generation.json`` is read with a size bound and decoded as outside data, and every
name in it is validated again before it is used in a path. Files of a generation are read-only:
later generations share them by hard links, and :meth:`Staging.keep` checks their sha256 before
carrying them forward.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec

from client.decoding import Undecodable, decode_json
from client.manifest import PLUGIN_NAME_PATTERN, SEMVER_PATTERN

__all__ = [
    "RECORD_FILE_NAME",
    "GenerationError",
    "GenerationLimits",
    "Generations",
    "InstalledPlugin",
    "Staging",
]

_log = logging.getLogger("clawft.sync.generations")

RECORD_FILE_NAME = "generation.json"
_RECORD_FORMAT = 1
_MAX_VERSION_CHARS = 128
_PLUGIN_NAME = re.compile(PLUGIN_NAME_PATTERN, re.ASCII)
_VERSION = re.compile(SEMVER_PATTERN, re.ASCII)
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_NUMBER = r"[1-9][0-9]{0,17}"
_GENERATION = re.compile(_NUMBER, re.ASCII)
_LINK_TARGET = re.compile(rf"generations/({_NUMBER})", re.ASCII)
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".trash-"
_LINK_PREFIX = ".link-"
_CHUNK = 1024 * 1024
_REPAIR = "stage a complete set (add() every plugin) and commit it, or roll back"


class GenerationError(Exception):
    """A generation cannot be read, staged, committed or rolled back; ``str()`` says why and
    what to do. Whatever raised it, ``current`` still names a complete generation."""


@dataclass(frozen=True)
class GenerationLimits:
    """Hard limits on what a generation holds and on what is read back from disk."""

    max_record_bytes: int = 16 * 1024 * 1024  # bytes of generation.json (~14 MB at the maxima)
    max_plugins: int = 4096  # plugins in one generation (a fleet of 1,000 fits)
    max_files_per_plugin: int = 16  # files in one plugin directory (component, manifest, bundle)


DEFAULT_LIMITS = GenerationLimits()


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """One plugin of a generation, as its ``generation.json`` records it. Constructing one
    validates it: a bad name, version, file name or digest is a :class:`GenerationError`."""

    name: str
    """``namespace/name``, each segment lowercase a-z, 0-9 and ``-``."""
    version: str
    """Its semantic version."""
    files: dict[str, str]
    """File name (plain, in the plugin's directory) → sha256 hex of its bytes."""

    def __post_init__(self) -> None:
        _check_plugin(self)


class _PluginRecord(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    version: str
    files: dict[str, str]


class _GenerationRecord(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    plugins: list[_PluginRecord]


def _split_name(name: str) -> tuple[str, str]:
    if len(name) > 129 or not _PLUGIN_NAME.fullmatch(name):
        raise GenerationError(
            f"{name[:140]!r} is not a plugin name: namespace/name, each 1-64 lowercase a-z, 0-9 "
            "and - (no other separators, no '..', no absolute paths)"
        )
    namespace, _, plugin = name.partition("/")
    return namespace, plugin


def _check_plugin(plugin: InstalledPlugin) -> None:
    _split_name(plugin.name)
    if len(plugin.version) > _MAX_VERSION_CHARS or not _VERSION.fullmatch(plugin.version):
        raise GenerationError(
            f"{plugin.name}: {plugin.version[:140]!r} is not a semantic version such as 1.2.0"
        )
    if not plugin.files:
        raise GenerationError(f"{plugin.name}: a plugin lists at least one file")
    for file_name, digest in plugin.files.items():
        if not _FILE_NAME.fullmatch(file_name) or ".." in file_name:
            raise GenerationError(
                f"{plugin.name}: {file_name[:140]!r} is not a plain file name (letters, digits, "
                "'.', '_' and '-'; no '/', no '..', no leading dot; at most 128 characters)"
            )
        if not _SHA256.fullmatch(digest):
            raise GenerationError(
                f"{plugin.name}: the digest of {file_name} is {digest[:80]!r}, not 64 lowercase "
                "hex characters of a sha256"
            )


class Generations:
    """The plugin generations under ``dest``: what the device runs, and how to change it."""

    def __init__(self, dest: Path, *, limits: GenerationLimits = DEFAULT_LIMITS) -> None:
        self.dest = dest
        self.limits = limits
        self._root = dest / "generations"

    def current(self) -> Path | None:
        """The resolved directory ``DEST/current`` names, or None when nothing is installed."""
        return self._directory(self._linked("current"))

    def previous(self) -> Path | None:
        """The resolved directory ``DEST/previous`` names, or None when there is none."""
        return self._directory(self._linked("previous"))

    def installed(self) -> dict[str, InstalledPlugin]:
        """The plugins of the current generation by name; ``{}`` when nothing is installed."""
        number = self._linked("current")
        return {} if number is None else self._record(number)

    def stage(self) -> Staging:
        """A new, empty staging generation; removes what a crashed sync left behind."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GenerationError(f"cannot make {self._root} ({exc})") from None
        if self._root.is_symlink():
            raise GenerationError(
                f"{self._root} is a symbolic link; refusing to use it: make it a directory"
            )
        lock = _DestLock(self.dest / ".lock", "stage a new generation")
        try:
            base = self._linked("current")
            self._remove_leftovers()
            path = self._root / f"{_STAGING_PREFIX}{secrets.token_hex(8)}"
            path.mkdir(mode=0o755)
        except BaseException as exc:
            lock.release()
            if isinstance(exc, OSError):
                raise GenerationError(f"cannot stage in {self._root} ({exc})") from exc
            raise
        return Staging(self, path, base, lock)

    def rollback(self) -> Path:
        """Make the previous generation current and the current one previous; returns the
        directory now current."""
        if self._linked("previous") is None:
            raise GenerationError(f"{self.dest} has no previous generation to roll back to")
        lock = _DestLock(self.dest / ".lock", "roll back")
        try:
            current, previous = self._linked("current"), self._linked("previous")
            if current is None or previous is None:
                raise GenerationError(f"{self.dest} has no previous generation to roll back to")
            if current == previous:
                raise GenerationError(
                    f"{self.dest}: previous is the same generation as current (an interrupted "
                    "commit or rollback left them so); there is nothing to roll back to: "
                    "install the set you want instead"
                )
            self._point("current", previous)
            _fsync_directory(self.dest)
            self._point("previous", current)
            _fsync_directory(self.dest)
        except OSError as exc:
            raise GenerationError(
                f"could not roll back ({exc}); current still names a complete generation: "
                "check the disk and try again"
            ) from exc
        finally:
            lock.release()
        return self.dest.resolve() / "generations" / str(previous)

    # Internals shared with Staging.

    def _linked(self, which: str) -> int | None:
        """The generation ``DEST/<which>`` names, refusing a link that leads anywhere else."""
        link = self.dest / which
        try:
            target = os.readlink(link)  # noqa: PTH115 (Path.readlink normalizes the text)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise GenerationError(
                f"{link} is not a symbolic link ({exc.strerror}); refusing to use it: move it "
                f"away and {_REPAIR}"
            ) from None
        match = _LINK_TARGET.fullmatch(target)
        if match is None:
            raise GenerationError(
                f"{link} points to {target[:200]!r}, not to a generation in {self._root}; "
                f"refusing to use it: remove the link and {_REPAIR}"
            )
        directory = self._root / match[1]
        if self._root.is_symlink() or directory.is_symlink() or not directory.is_dir():
            raise GenerationError(
                f"{link} names {directory}, which is missing or a symbolic link; refusing to "
                f"use it: remove the link and {_REPAIR}"
            )
        return int(match[1])

    def _directory(self, number: int | None) -> Path | None:
        return None if number is None else self.dest.resolve() / "generations" / str(number)

    def _plugin_directory(self, number: int, name: str) -> Path:
        namespace, plugin = _split_name(name)
        return self._root / str(number) / namespace / plugin

    def _record(self, number: int) -> dict[str, InstalledPlugin]:
        path = self._root / str(number) / RECORD_FILE_NAME
        limit = self.limits.max_record_bytes
        try:
            data = _read_bounded(path, limit)
        except FileNotFoundError:
            raise GenerationError(
                f"{path} is missing: generation {number} is incomplete or was tampered with; "
                f"{_REPAIR}"
            ) from None
        except OSError as exc:
            why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            raise GenerationError(f"cannot read {path} ({why}); {_REPAIR}") from None
        if len(data) > limit:
            raise GenerationError(f"{path} is larger than the {limit}-byte limit; {_REPAIR}")
        try:
            record = decode_json(data, type=_GenerationRecord, what=str(path))
        except Undecodable as exc:
            raise GenerationError(f"{exc}; {_REPAIR}") from None
        if record.format != _RECORD_FORMAT:
            raise GenerationError(
                f"{path} has format {record.format}, not {_RECORD_FORMAT}; {_REPAIR}"
            )
        if len(record.plugins) > self.limits.max_plugins:
            raise GenerationError(
                f"{path} lists more than {self.limits.max_plugins} plugins; {_REPAIR}"
            )
        plugins: dict[str, InstalledPlugin] = {}
        for entry in record.plugins:
            try:
                plugin = InstalledPlugin(entry.name, entry.version, entry.files)
            except GenerationError as exc:
                raise GenerationError(f"{path}: {exc}; {_REPAIR}") from None
            if len(plugin.files) > self.limits.max_files_per_plugin:
                raise GenerationError(
                    f"{path}: {plugin.name} lists more than {self.limits.max_files_per_plugin} "
                    f"files; {_REPAIR}"
                )
            if plugin.name in plugins:
                raise GenerationError(f"{path} lists {plugin.name} twice; {_REPAIR}")
            plugins[plugin.name] = plugin
        return plugins

    def _numbers(self) -> set[int]:
        with os.scandir(self._root) as entries:
            return {
                int(entry.name)
                for entry in entries
                if _GENERATION.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)
            }

    def _point(self, which: str, number: int) -> None:
        """Point ``DEST/<which>`` at generation ``number``: one atomic replace of a new link
        (the caller fsyncs ``DEST``)."""
        temporary = self.dest / f"{_LINK_PREFIX}{which}-{secrets.token_hex(8)}"
        temporary.symlink_to(f"generations/{number}")
        try:
            temporary.replace(self.dest / which)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    def _unlink_previous(self) -> None:
        (self.dest / "previous").unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        """Staging directories and temporary links of crashed syncs, half-pruned generations."""
        with os.scandir(self._root) as entries:
            leftovers = [
                e.path for e in entries if e.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX))
            ]
        for path in leftovers:
            _remove(Path(path))
        with os.scandir(self.dest) as entries:
            links = [e.path for e in entries if e.name.startswith(_LINK_PREFIX) and e.is_symlink()]
        for path in links:
            Path(path).unlink(missing_ok=True)

    def _prune(self, keep: set[int]) -> None:
        """Remove every generation not in ``keep``: renamed aside first, so a crash never
        leaves a half-removed directory under a generation's name."""
        try:
            for number in sorted(self._numbers() - keep):
                trash = self._root / f"{_TRASH_PREFIX}{number}-{secrets.token_hex(4)}"
                (self._root / str(number)).rename(trash)
                _remove(trash)
        except OSError as exc:
            _log.warning("could not prune old generations in %s (%s); will retry", self._root, exc)


class Staging:
    """A generation being built in ``DEST/generations/.staging-<random>/``, from
    :meth:`Generations.stage`. Used as a context manager, leaving the block without
    :meth:`commit` removes the staging directory."""

    def __init__(
        self, generations: Generations, path: Path, base: int | None, lock: _DestLock
    ) -> None:
        self._generations = generations
        self._path = path
        self._base = base
        self._lock = lock
        self._base_plugins: dict[str, InstalledPlugin] | None = None
        self._plugins: dict[str, InstalledPlugin] = {}
        self._closed = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def keep(self, name: str) -> None:
        """Carry plugin ``name`` unchanged from the current generation: hard links where the
        filesystem allows, copies otherwise, each file's sha256 checked first."""
        self._check_open()
        self._check_new(name)
        if self._base is None:
            raise GenerationError(f"nothing is installed yet, so {name} cannot be kept; add() it")
        if self._base_plugins is None:
            self._base_plugins = self._generations._record(self._base)
        plugin = self._base_plugins.get(name)
        if plugin is None:
            raise GenerationError(
                f"{name} is not in the current generation, so it cannot be kept; add() it"
            )
        source = self._generations._plugin_directory(self._base, name)

        def place(file_name: str, digest: str, target: Path) -> None:
            _carry(source / file_name, target, digest, f"{name}: {file_name}")

        self._stage_plugin(plugin, place)

    def add(self, plugin: InstalledPlugin, files: Mapping[str, Path]) -> None:
        """Copy verified ``files`` (file name → path) in as ``plugin.name``, refusing any file
        whose sha256 is not the one ``plugin.files`` lists for it."""
        self._check_open()
        record = InstalledPlugin(plugin.name, plugin.version, dict(plugin.files))  # re-checked
        self._check_new(record.name)
        limit = self._generations.limits.max_files_per_plugin
        if len(record.files) > limit:
            raise GenerationError(f"{record.name} has more than {limit} files")
        missing, unlisted = (
            sorted(record.files.keys() - files),
            sorted(set(files) - record.files.keys()),
        )
        if missing or unlisted:
            raise GenerationError(
                f"{record.name}: the files given are not the files it lists "
                f"(missing: {missing}; not listed: {[n[:140] for n in unlisted]})"
            )

        def place(file_name: str, digest: str, target: Path) -> None:
            what = f"{record.name}: {file_name}"
            try:
                handle = files[file_name].open("rb")
            except OSError as exc:
                raise GenerationError(f"{what}: cannot read {files[file_name]} ({exc})") from None
            with handle:
                _write_verified(handle, target, digest, what)

        self._stage_plugin(record, place)

    def commit(self) -> Path:
        """Make the staged set the current generation (see the module's ordering rules) and
        the current one previous; prune the rest. Returns the new generation's directory."""
        self._check_open()
        self._closed = True
        owner, switched, number = self._generations, False, 0
        try:
            self._make_durable()
            number = max(owner._numbers() | {self._base or 0}) + 1
            self._path.rename(owner._root / str(number))
            _fsync_directory(owner._root)
            if self._base is None:
                owner._unlink_previous()  # a stale one would name a generation pruned below
            else:
                owner._point("previous", self._base)
            _fsync_directory(owner.dest)
            owner._point("current", number)
            switched = True
            _fsync_directory(owner.dest)
            owner._prune({number} if self._base is None else {number, self._base})
        except OSError as exc:
            state = (
                f"generation {number} is current, but may not be on disk yet"
                if switched
                else "the device still runs the generation it ran before"
            )
            raise GenerationError(
                f"could not commit the new generation ({exc}); {state}: "
                "check the disk and sync again"
            ) from exc
        finally:
            self._lock.release()
        return owner.dest.resolve() / "generations" / str(number)

    def discard(self) -> None:
        """Give up this staging generation: remove its directory and release ``DEST``."""
        self._closed = True
        shutil.rmtree(self._path, ignore_errors=True)  # gone already once commit() renamed it
        self._lock.release()

    def _check_open(self) -> None:
        if self._closed:
            raise GenerationError(
                "this staging generation was committed or discarded; call stage() for a new one"
            )

    def _check_new(self, name: str) -> None:
        _split_name(name)
        if name in self._plugins:
            raise GenerationError(f"{name} is already staged in this generation")
        limit = self._generations.limits.max_plugins
        if len(self._plugins) >= limit:
            raise GenerationError(f"a generation holds at most {limit} plugins")

    def _stage_plugin(
        self, plugin: InstalledPlugin, place: Callable[[str, str, Path], None]
    ) -> None:
        """Make the plugin's directory and ``place(file name, sha256, target)`` each file in
        it; on any failure, remove the directory again so the staging stays consistent."""
        namespace, name = _split_name(plugin.name)
        directory = self._path / namespace / name
        try:
            directory.parent.mkdir(mode=0o755, exist_ok=True)
            directory.mkdir(mode=0o755)
            for file_name, digest in sorted(plugin.files.items()):
                place(file_name, digest, directory / file_name)
        except BaseException as exc:
            shutil.rmtree(directory, ignore_errors=True)
            if isinstance(exc, OSError):
                raise GenerationError(
                    f"could not stage {plugin.name} ({exc}); check the disk and sync again"
                ) from exc
            raise
        self._plugins[plugin.name] = plugin

    def _make_durable(self) -> None:
        namespaces: set[str] = set()
        for name, plugin in self._plugins.items():
            namespace, plugin_name = _split_name(name)
            namespaces.add(namespace)
            directory = self._path / namespace / plugin_name
            for file_name in plugin.files:
                _fsync_file(directory / file_name)
            _fsync_directory(directory)
        for namespace in namespaces:
            _fsync_directory(self._path / namespace)
        record = _GenerationRecord(
            format=_RECORD_FORMAT,
            plugins=[
                _PluginRecord(name=p.name, version=p.version, files=dict(sorted(p.files.items())))
                for _, p in sorted(self._plugins.items())
            ],
        )
        data = msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"
        fd = os.open(self._path / RECORD_FILE_NAME, _NEW_FILE_FLAGS, 0o444)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_directory(self._path)


class _DestLock:
    """An exclusive ``flock`` on ``DEST/.lock``, released by :meth:`release` or by the death of
    the process that holds it."""

    def __init__(self, path: Path, action: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise GenerationError(f"cannot {action}: cannot open {path} ({exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise GenerationError(
                f"cannot {action}: another sync or rollback holds {path}; wait for it to finish"
            ) from None
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _read_bounded(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path``, refusing a symbolic link (``ELOOP``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)


def _write_verified(source: BinaryIO, target: Path, digest: str, what: str) -> None:
    """Copy ``source`` to a new read-only ``target``, hashing what is written; remove it and
    refuse when its sha256 is not ``digest``."""
    hasher = hashlib.sha256()
    fd = os.open(target, _NEW_FILE_FLAGS, 0o444)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise GenerationError(
                f"{what}: its sha256 is {hasher.hexdigest()}, not the {digest} listed for it; "
                "refusing it (download and verify the plugin again)"
            )
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise


def _carry(source: Path, target: Path, digest: str, what: str) -> None:
    """Check ``source`` against ``digest``, then hard-link it to ``target`` (copy it when the
    filesystem will not link)."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise GenerationError(
            f"{what}: cannot read the current generation's copy ({exc.strerror}); add() the "
            "plugin again instead of keeping it"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        hasher = hashlib.sha256()
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
        if hasher.hexdigest() != digest:
            raise GenerationError(
                f"{what}: the current generation's copy no longer matches its recorded sha256 "
                "(changed on disk); add() the plugin again instead of keeping it"
            )
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:  # another filesystem, no hard links, too many links: copy it
            handle.seek(0)
            _write_verified(handle, target, digest, what)
            return
        linked, checked = target.lstat(), os.fstat(handle.fileno())
        if (linked.st_dev, linked.st_ino) != (checked.st_dev, checked.st_ino):
            target.unlink()
            raise GenerationError(f"{what}: the current generation's copy changed while kept")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)
