"""The registry's TUF repository as a device trusts it: python-tuf's ngclient, bootstrapped
from the root pinned on the device, over HTTP or a mirror directory.

Everything this module returns was verified by ngclient against the pinned root (and the roots
it rotated to): rollback, freeze, mix-and-match, wrong lengths or hashes and oversized files
are refused by ngclient before anything reaches here. What is read from verified metadata is
still decoded strictly: a compromised online key can sign nonsense.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse

import msgspec
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from client.sync.schemas import (
    CUSTOM_KEY,
    NamespaceIndex,
    PluginIndex,
    SignerPolicy,
    TargetCustom,
    namespace_index_path,
    plugin_index_path,
    policy_path,
)

__all__ = [
    "MIRROR_SCHEME",
    "PINNED_ROOT",
    "DirectoryFetcher",
    "RepositoryUntrusted",
    "RootNotPinned",
    "TargetMissing",
    "TrustedRepository",
    "pin_root",
]

PINNED_ROOT = "pinned-root.json"
"""The root a device trusts, under ``<dest>/.tuf/`` (written by ``sync init``)."""
MIRROR_SCHEME = "mirror"
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024
_T = TypeVar("_T")


class RepositoryUntrusted(Exception):
    """The repository's metadata was refused (or could not be fetched): nothing it says is
    used. The message names the TUF check that failed."""


class RootNotPinned(ValueError):
    """The device has no root to trust yet (``sync init`` pins one)."""


class TargetMissing(LookupError):
    """The signed metadata lists no such target."""


def pin_root(state: Path, root: bytes) -> Path:
    """Pin ``root`` (a TUF root metadata file) as the device's trust anchor under ``state``."""
    try:
        parsed = Metadata[Root].from_bytes(root)
        parsed.signed.verify_delegate(Root.type, parsed.signed_bytes, parsed.signatures)
    except Exception as exc:  # any parse or signature failure: not a usable root
        raise RepositoryUntrusted(f"not a self-signed TUF root: {exc}") from None
    state.mkdir(parents=True, exist_ok=True)
    path = state / PINNED_ROOT
    temporary = path.with_name(f".{PINNED_ROOT}.tmp")
    temporary.write_bytes(root)
    temporary.replace(path)
    return path


class DirectoryFetcher(FetcherInterface):
    """Fetch ``mirror:///metadata/…`` and ``mirror:///targets/…`` from a directory written by
    ``clawft-registry mirror`` (an air-gapped site's USB stick); nothing outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        parsed = urlparse(url)
        if parsed.scheme != MIRROR_SCHEME:
            raise tuf_errors.DownloadHTTPError(f"{url}: not a mirror URL", 404)
        path = (self.root / unquote(parsed.path).lstrip("/")).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise tuf_errors.DownloadHTTPError(f"{url} is not in the mirror", 404)
        return self._chunks(path)

    @staticmethod
    def _chunks(path: Path) -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk


class TrustedRepository:
    """One refresh of the repository's metadata, and the verified files a sync needs."""

    def __init__(self, state: Path, *, registry_url: str | None, mirror: Path | None) -> None:
        pinned = state / PINNED_ROOT
        if not pinned.is_file():
            raise RootNotPinned(
                f"no root is pinned in {state}: fetch the registry's root once "
                "(<registry>/tuf/metadata/1.root.json), check it out of band, and run "
                "`clawft-registry sync init --root FILE --dest DIR`"
            )
        metadata, targets = state / "metadata", state / "targets"
        metadata.mkdir(parents=True, exist_ok=True)
        targets.mkdir(parents=True, exist_ok=True)
        self._metadata_dir = metadata
        if mirror is not None:
            base, fetcher = f"{MIRROR_SCHEME}:///", DirectoryFetcher(mirror)
        elif registry_url:
            base, fetcher = registry_url.rstrip("/") + "/tuf/", None
        else:
            raise ValueError("give a registry URL or a mirror directory")
        try:
            self._updater = Updater(
                metadata_dir=str(metadata),
                metadata_base_url=base + "metadata/",
                target_dir=str(targets),
                target_base_url=base + "targets/",
                fetcher=fetcher,
                config=UpdaterConfig(),
                bootstrap=pinned.read_bytes(),
            )
            self._updater.refresh()
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            raise RepositoryUntrusted(_why(exc)) from None
        except (OSError, ValueError) as exc:
            raise RepositoryUntrusted(f"cannot read the repository: {exc}") from None
        self._top_targets = Metadata[Targets].from_file(str(metadata / "targets.json")).signed

    # -- what the signed metadata says ---------------------------------------------------

    def versions(self) -> dict[str, int]:
        """The versions of the top-level metadata this sync trusts."""
        out: dict[str, int] = {}
        for role in (Root.type, Timestamp.type, Snapshot.type, Targets.type):
            try:
                data = json.loads((self._metadata_dir / f"{role}.json").read_bytes())
                out[role] = int(data["signed"]["version"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def policy(self, namespace: str) -> SignerPolicy | None:
        """Who may sign ``namespace``: read from the top-level targets only (the offline key's
        metadata), never from a hash bin an online key signs."""
        target = self._top_targets.targets.get(policy_path(namespace))
        if target is None:
            return None
        try:
            policy = msgspec.convert(target.custom.get(CUSTOM_KEY), SignerPolicy)
        except (msgspec.ValidationError, AttributeError) as exc:
            raise RepositoryUntrusted(
                f"the signer policy of {namespace} is malformed: {exc}"
            ) from None
        if policy.namespace != namespace:
            raise RepositoryUntrusted(
                f"the signer policy listed for {namespace} is {policy.namespace}'s"
            )
        return policy

    def namespace_index(self, namespace: str) -> NamespaceIndex | None:
        index = self._document(namespace_index_path(namespace), NamespaceIndex)
        if index is not None and index.namespace != namespace:
            raise RepositoryUntrusted(f"the index of {namespace} names {index.namespace}")
        return index

    def plugin_index(self, namespace: str, name: str) -> PluginIndex | None:
        index = self._document(plugin_index_path(namespace, name), PluginIndex)
        if index is not None and index.plugin != f"{namespace}/{name}":
            raise RepositoryUntrusted(f"the index of {namespace}/{name} names {index.plugin}")
        return index

    def target(self, path: str) -> tuple[TargetFile, TargetCustom | None]:
        """The signed record of a target (and its plugin-file metadata, when it is one)."""
        try:
            info = self._updater.get_targetinfo(path)
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            raise RepositoryUntrusted(_why(exc)) from None
        if info is None:
            raise TargetMissing(f"the signed metadata lists no {path}")
        raw = info.custom.get(CUSTOM_KEY) if isinstance(info.custom, dict) else None
        custom = None
        if isinstance(raw, dict) and "part" in raw:
            try:
                custom = msgspec.convert(raw, TargetCustom)
            except msgspec.ValidationError as exc:
                raise RepositoryUntrusted(f"{path}: malformed custom metadata: {exc}") from None
        return info, custom

    def download(self, info: TargetFile) -> Path:
        """The verified file of ``info`` (from the device's cache when it is already there)."""
        try:
            cached = self._updater.find_cached_target(info)
            return Path(cached or self._updater.download_target(info))
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            raise RepositoryUntrusted(f"{info.path}: {_why(exc)}") from None

    def _document(self, path: str, kind: type[_T]) -> _T | None:
        try:
            info, _custom = self.target(path)
        except TargetMissing:
            return None
        if info.length > MAX_DOCUMENT_BYTES:
            raise RepositoryUntrusted(f"{path} is {info.length} bytes: too large an index")
        try:
            return msgspec.json.decode(self.download(info).read_bytes(), type=kind)
        except msgspec.DecodeError as exc:
            raise RepositoryUntrusted(f"{path} is malformed: {exc}") from None


def _why(exc: Exception) -> str:
    kind = type(exc).__name__
    return f"{kind}: {exc}" if str(exc) else kind
