"""``pull``: install one approved plugin version, trusted through the registry's TUF
repository, exactly as ``sync`` installs them (:func:`client.sync.fetch.fetch_plugin`): the
version resolved from signed metadata, every file's length and hash checked, the signature
checked against the namespace's signer policy from the offline-signed metadata (and any signer
pinned locally on top). A pulled plugin is protected against rollback and forged signer lists.

The root of trust is pinned per registry by an explicit step (``trust init`` or ``--root``),
never fetched on first use. An interrupted or refused pull leaves nothing installed: files land
in a hidden temporary directory beside the destination, renamed into place as the last step.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client.manifest import PLUGIN_NAME_PATTERN, SEMVER_PATTERN, version_precedence
from client.registry.client import split_name
from client.registry.errors import DownloadRejected
from client.signing import SigstoreInstance, TrustedPublisher

_PLUGIN_NAME = re.compile(PLUGIN_NAME_PATTERN)
_VERSION = re.compile(SEMVER_PATTERN)
MAX_VERSION_CHARS = 128


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    name: str
    version: str
    directory: Path
    component: Path
    signer: str | None
    """``identity (issuer)`` of the verified signer; None when installed unsigned."""
    yanked: bool
    metadata: dict[str, int]
    """The TUF metadata versions the install was proved against."""


def parse_reference(reference: str) -> tuple[str, str | None]:
    """``acme/hello@1.2.0`` → (``acme/hello``, ``1.2.0``); no ``@``: the latest version."""
    name, sep, version = reference.partition("@")
    split_name(name)
    if not _PLUGIN_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a plugin name: namespace/name, each lowercase a-z, 0-9 and -"
        )
    if sep and not version:
        raise ValueError(f"{reference!r}: give a version after @, or leave out the @")
    if version and (len(version) > MAX_VERSION_CHARS or not _VERSION.fullmatch(version)):
        raise ValueError(f"{version!r} is not a semantic version such as 1.2.0")
    return name, (version or None)


def pull(
    reference: str,
    destination: Path,
    *,
    trust: Path,
    instance: SigstoreInstance,
    registry_url: str | None = None,
    mirror: Path | None = None,
    allow_unsigned: bool = False,
    publishers: Sequence[TrustedPublisher] = (),
) -> InstalledPlugin:
    """Install ``reference`` (``NAME`` for the newest approved, non-yanked version, or
    ``NAME@VERSION``, which may be yanked) under ``destination/<namespace>/<name>/<version>``.
    ``trust``: the directory holding the pinned root (``trust init``)."""
    from client.sync.fetch import PluginRefused, fetch_plugin
    from client.sync.repository import RepositoryUntrusted, TargetMissing, TrustedRepository

    name, version = parse_reference(reference)
    namespace, plugin = split_name(name)
    try:
        repo = TrustedRepository(trust, registry_url=registry_url, mirror=mirror)
        index = repo.plugin_index(namespace, plugin)
        if index is None:
            raise DownloadRejected(f"the registry's signed metadata lists no plugin {name}")
        entries = {entry.version: entry for entry in index.versions}
        if version is None:
            listed = [v for v, e in entries.items() if not e.yanked and _VERSION.fullmatch(v)]
            if not listed:
                raise DownloadRejected(f"{name} has no approved version that is not yanked")
            version = max(listed, key=version_precedence)
        entry = entries.get(version)
        if entry is None:
            raise DownloadRejected(f"the registry's signed metadata lists no {name} {version}")
        final = destination / namespace / plugin / version
        if final.exists():
            raise DownloadRejected(
                f"{final} already exists; remove it to pull {name} {version} again"
            )
        verified = fetch_plugin(
            repo,
            name,
            entry,
            instance=instance,
            allow_unsigned=allow_unsigned,
            pinned=publishers,
        )
    except (PluginRefused, TargetMissing, RepositoryUntrusted) as exc:
        raise DownloadRejected(str(exc)) from None
    _install(final, verified.files)
    return InstalledPlugin(
        name=name,
        version=version,
        directory=final,
        component=final / verified.component_name,
        signer=verified.signer,
        yanked=entry.yanked,
        metadata=repo.versions(),
    )


def _install(final: Path, files: dict[str, Path]) -> None:
    """Copy ``files`` into a hidden directory beside ``final`` and rename it into place."""
    created = [p for p in (final.parent.parent, final.parent) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for file_name, source in files.items():
            shutil.copyfile(source, staging / file_name)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in reversed(created):  # the directories this pull made, if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
