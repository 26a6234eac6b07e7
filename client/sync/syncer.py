"""``clawft-registry sync``: bring a device's plugins to what its selection asks for, through
the registry's TUF repository only.

For each selected plugin: the newest approved, non-yanked version the selection allows (never
older than the installed one unless that one was yanked or left the selection: a registry
that stops listing a version cannot roll a device back); its files, verified by TUF; its
Sigstore bundle, checked against the namespace's signer policy from the offline-signed
metadata; its component compiled into the host's cache. Then one new generation, switched in
atomically (:mod:`client.sync.generations`). A plugin that fails keeps its installed version
and is reported; the others go ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from client.host import PluginHost
from client.manifest import version_precedence
from client.signing import SigstoreInstance
from client.sync.fetch import PluginRefused, fetch_plugin
from client.sync.generations import Generations, InstalledPlugin
from client.sync.repository import TargetMissing, TrustedRepository
from client.sync.schemas import IndexedVersion, PluginIndex
from client.sync.selection import Selection, newest

__all__ = ["STATE_DIR", "Change", "ChangeKind", "SyncSummary", "sync"]

STATE_DIR = ".tuf"
"""The device's TUF state under the destination: pinned root, metadata, downloaded targets."""

Progress = Callable[[int, int, str], None]


class ChangeKind(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    name: str
    version: str | None = None
    """The version now installed (``None``: none)."""
    previous: str | None = None
    reason: str = ""


@dataclass
class SyncSummary:
    changes: list[Change] = field(default_factory=list)
    metadata: dict[str, int] = field(default_factory=dict)
    """Versions of the TUF metadata this sync trusted (root, timestamp, snapshot, targets)."""
    generation: str | None = None
    """The generation now current (``None``: nothing installed)."""

    def of(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind is kind]

    @property
    def changed(self) -> bool:
        return any(
            c.kind in (ChangeKind.ADDED, ChangeKind.UPDATED, ChangeKind.REMOVED)
            for c in self.changes
        )


@dataclass(frozen=True)
class _Wanted:
    name: str
    entry: IndexedVersion


def sync(
    dest: Path,
    selections: Iterable[Selection],
    *,
    instance: SigstoreInstance,
    registry_url: str | None = None,
    mirror: Path | None = None,
    host: PluginHost | None = None,
    allow_unsigned: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """Sync ``dest`` to ``selections``; :class:`RepositoryUntrusted` (nothing changed) when
    the repository's metadata is refused."""
    repo = TrustedRepository(dest / STATE_DIR, registry_url=registry_url, mirror=mirror)
    generations = Generations(dest)
    installed = generations.installed()
    summary = SyncSummary(metadata=repo.versions())
    wanted, held = _resolve(repo, list(selections), installed, summary)
    ready: dict[str, tuple[InstalledPlugin, dict[str, Path]]] = {}
    for done, (name, want) in enumerate(sorted(wanted.items()), start=1):
        if progress is not None:
            progress(done, len(wanted), name)
        current = installed.get(name)
        if current is not None and current.version == want.entry.version:
            summary.changes.append(Change(ChangeKind.UNCHANGED, name, current.version))
            continue
        try:
            verified = fetch_plugin(
                repo,
                name,
                want.entry,
                instance=instance,
                host=host,
                allow_unsigned=allow_unsigned,
            )
            ready[name] = (verified.plugin, verified.files)
        except (PluginRefused, TargetMissing) as exc:
            held.add(name)
            summary.changes.append(
                Change(
                    ChangeKind.FAILED,
                    name,
                    current.version if current else None,
                    want.entry.version,
                    str(exc),
                )
            )
            continue
        kind = ChangeKind.ADDED if current is None else ChangeKind.UPDATED
        summary.changes.append(
            Change(kind, name, want.entry.version, current.version if current else None)
        )
    keep = {n for n in installed if (n in wanted and n not in ready) or n in held}
    removed = sorted(set(installed) - keep - set(ready))
    summary.changes += [Change(ChangeKind.REMOVED, n, None, installed[n].version) for n in removed]
    if ready or removed:
        with generations.stage() as staging:
            for name in sorted(keep):
                staging.keep(name)
            for plugin, files in ready.values():
                staging.add(plugin, files)
            summary.generation = staging.commit().name
    else:
        current_dir = generations.current()
        summary.generation = current_dir.name if current_dir else None
    return summary


def _resolve(
    repo: TrustedRepository,
    selections: list[Selection],
    installed: dict[str, InstalledPlugin],
    summary: SyncSummary,
) -> tuple[dict[str, _Wanted], set[str]]:
    """The version each selected plugin should run; and the installed plugins to hold on to
    whatever happens (their selection could not be resolved)."""
    wanted: dict[str, _Wanted] = {}
    held: set[str] = set()
    for selection in selections:
        if selection.name is None:
            index = repo.namespace_index(selection.namespace)
            if index is None:
                _fail(summary, str(selection), "the repository lists no such namespace")
                held |= {n for n in installed if n.startswith(selection.namespace + "/")}
                continue
            names = index.plugins
        else:
            names = [selection.name]
        for name in names:
            full = f"{selection.namespace}/{name}"
            try:
                plugin_index = repo.plugin_index(selection.namespace, name)
                if plugin_index is None:
                    raise PluginRefused("the repository lists no such plugin")
                entry = _choose(plugin_index, selection, installed.get(full))
            except PluginRefused as exc:
                _fail(summary, full, str(exc), installed.get(full))
                if full in installed:
                    held.add(full)
                continue
            wanted[full] = _Wanted(full, entry)
    return wanted, held


def _choose(
    index: PluginIndex, selection: Selection, current: InstalledPlugin | None
) -> IndexedVersion:
    entries = {entry.version: entry for entry in index.versions}
    choice = newest([v for v, e in entries.items() if not e.yanked], selection.versions)
    if current is not None:
        now = entries.get(current.version)
        newer_than_choice = choice is None or version_precedence(
            current.version
        ) > version_precedence(choice)
        if newer_than_choice:
            in_range = selection.versions is None or current.version in selection.versions
            if now is None and in_range:
                raise PluginRefused(
                    f"the repository no longer lists {current.version}, which is installed; "
                    f"refusing to go back to {choice or 'nothing'} (a rollback attack, or a "
                    "version removed by an admin: reinstall it explicitly if so)"
                )
            if now is not None and not now.yanked and in_range:
                return now  # keep what runs: newer than anything else allowed
    if choice is None:
        raise PluginRefused(
            "no approved, non-yanked version"
            + (f" in {selection.versions.text}" if selection.versions else "")
        )
    return entries[choice]


def _fail(
    summary: SyncSummary, name: str, reason: str, current: InstalledPlugin | None = None
) -> None:
    summary.changes.append(
        Change(ChangeKind.FAILED, name, current.version if current else None, None, reason)
    )
