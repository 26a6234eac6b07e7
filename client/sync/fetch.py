"""One plugin version, fetched through the TUF repository and proved before anything installs
it: each file's length and hash (TUF), its signed custom metadata (plugin, version, part), the
manifest naming the same plugin and version, the Sigstore bundle against the namespace's
signer policy from the offline-signed metadata (and any signers pinned locally on top), and,
for a device, the component compiled into the host's cache. ``sync`` and ``pull`` both fetch
this way: one trust path.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from client.host import PluginHost
from client.host.errors import HostError
from client.manifest import (
    BUNDLE_SUFFIX,
    COMPONENT_FILE_PATTERN,
    MANIFEST_FILE_NAME,
    ManifestInvalid,
    PluginManifest,
    parse_manifest,
)
from client.signing import (
    PluginFiles,
    SignatureVerificationError,
    SigningError,
    SigstoreInstance,
    TrustedPublisher,
    TrustPolicy,
    verify_plugin_bundle,
)
from client.sync.generations import InstalledPlugin
from client.sync.repository import TrustedRepository
from client.sync.schemas import IndexedVersion, TargetPart

__all__ = ["PluginRefused", "VerifiedPlugin", "fetch_plugin"]

_COMPONENT_FILE = re.compile(COMPONENT_FILE_PATTERN)


class PluginRefused(Exception):
    """This version cannot be installed; the message says why."""


@dataclass(frozen=True)
class VerifiedPlugin:
    plugin: InstalledPlugin
    """Name, version and each file's sha256."""
    files: dict[str, Path]
    """File name in the plugin's directory → the verified file (in the TUF target cache)."""
    manifest: PluginManifest
    signer: str | None
    """``identity (issuer)`` of the verified signer; ``None`` when installed unsigned."""
    component_name: str


def fetch_plugin(
    repo: TrustedRepository,
    name: str,
    entry: IndexedVersion,
    *,
    instance: SigstoreInstance,
    host: PluginHost | None = None,
    allow_unsigned: bool = False,
    pinned: Sequence[TrustedPublisher] = (),
) -> VerifiedPlugin:
    """Fetch and prove ``name`` at ``entry``'s version (see the module); :class:`PluginRefused`
    or, when the repository itself fails verification, ``RepositoryUntrusted``."""
    namespace = name.split("/")[0]
    files: dict[TargetPart, Path] = {}
    for part, path in entry.files.items():
        info, custom = repo.target(path)
        if custom is None or (custom.plugin, custom.version, custom.part) != (
            name,
            entry.version,
            part,
        ):
            raise PluginRefused(f"{path} is not signed as the {part} of {name} {entry.version}")
        files[part] = repo.download(info)
    if TargetPart.COMPONENT not in files or TargetPart.MANIFEST not in files:
        raise PluginRefused(f"{entry.version} lists no component or no manifest")
    component_name = PurePosixPath(entry.files[TargetPart.COMPONENT]).name
    if not _COMPONENT_FILE.fullmatch(component_name):
        raise PluginRefused(f"the component file name {component_name[:140]!r} is not safe")
    manifest_bytes = files[TargetPart.MANIFEST].read_bytes()
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestInvalid as exc:
        raise PluginRefused(f"its manifest is invalid: {exc}") from None
    if (manifest.name, manifest.version, manifest.component) != (
        name,
        entry.version,
        component_name,
    ):
        raise PluginRefused("its signed manifest does not describe this plugin and version")
    component = files[TargetPart.COMPONENT].read_bytes()
    signer = _check_signature(
        repo,
        namespace,
        files.get(TargetPart.BUNDLE),
        manifest_bytes,
        component,
        instance,
        allow_unsigned,
        pinned,
    )
    if host is not None:
        try:
            host.load_compiled(host.compile(component), manifest)
        except HostError as exc:
            raise PluginRefused(f"the host cannot load its component: {exc}") from None
    named = {
        component_name: files[TargetPart.COMPONENT],
        MANIFEST_FILE_NAME: files[TargetPart.MANIFEST],
    }
    if TargetPart.BUNDLE in files:
        named[component_name + BUNDLE_SUFFIX] = files[TargetPart.BUNDLE]
    plugin = InstalledPlugin(
        name,
        entry.version,
        {file: hashlib.sha256(path.read_bytes()).hexdigest() for file, path in named.items()},
    )
    return VerifiedPlugin(plugin, named, manifest, signer, component_name)


def _check_signature(
    repo: TrustedRepository,
    namespace: str,
    bundle: Path | None,
    manifest: bytes,
    component: bytes,
    instance: SigstoreInstance,
    allow_unsigned: bool,
    pinned: Sequence[TrustedPublisher],
) -> str | None:
    policy = repo.policy(namespace)
    if policy is None:
        raise PluginRefused(
            f"the repository's offline-signed metadata has no signer policy for {namespace}: "
            "an admin must sign one before devices install its plugins"
        )
    publishers = [TrustedPublisher(identity=s.identity, issuer=s.issuer) for s in policy.signers]
    if pinned:  # pinned locally on top: a signer must be in both lists
        publishers = [p for p in publishers if p in pinned]
        if not publishers:
            raise PluginRefused(f"none of the signers you pinned is in {namespace}'s signer policy")
    if not policy.signers:
        if allow_unsigned and not pinned:
            return None
        raise PluginRefused(
            f"namespace {namespace} lists no trusted signers, so nothing can be checked; pass "
            "--allow-unsigned only for a registry you trust without signatures"
        )
    if bundle is None:
        raise PluginRefused("it has no signature bundle, and its namespace requires one")
    try:
        verified = verify_plugin_bundle(
            bundle.read_bytes(),
            PluginFiles.from_bytes(manifest=manifest, component=component),
            policy=TrustPolicy({namespace: publishers}),
            verifier=instance.verifier(offline=True),
        )
    except (SignatureVerificationError, SigningError) as exc:
        raise PluginRefused(
            f"its signature does not verify against the signer policy: {exc}"
        ) from None
    return f"{verified.signer.identity} ({verified.signer.issuer})"
