"""``pull``: download an approved plugin, prove it is what the registry recorded and what a
trusted publisher signed, and only then move it into place atomically.

An interrupted or tampered download leaves nothing installed: files land in a hidden
temporary directory beside the destination, which is renamed into place as the last step.
Every name the registry sends back (plugin name, version, file name) is checked before it is
used in a path, so a registry cannot make ``pull`` touch anything outside ``--dest``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from client.manifest import (
    BUNDLE_SUFFIX,
    COMPONENT_FILE_PATTERN,
    MANIFEST_FILE_NAME,
    PLUGIN_NAME_PATTERN,
    SEMVER_PATTERN,
    ManifestInvalid,
    parse_manifest,
)
from client.registry.client import Progress, RegistryClient, split_name
from client.registry.errors import DownloadRejected
from client.registry.schemas import VersionDetail
from client.signing import (
    PluginFiles,
    SignatureVerificationError,
    SigningError,
    SigstoreInstance,
    TrustedPublisher,
    TrustPolicy,
    verify_plugin_bundle,
)

_SAFE_FILE = re.compile(COMPONENT_FILE_PATTERN)
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
    client: RegistryClient,
    reference: str,
    destination: Path,
    *,
    instance: SigstoreInstance,
    allow_unsigned: bool = False,
    progress: Progress | None = None,
) -> InstalledPlugin:
    name, version = parse_reference(reference)
    namespace, plugin = split_name(name)
    detail = client.version(name, version) if version else client.latest(name)
    _check_names(detail, name, version)
    final = destination / namespace / plugin / detail.version
    if final.exists():
        raise DownloadRejected(
            f"{final} already exists; remove it to pull {name} {detail.version} again"
        )
    created = [p for p in (final.parent.parent, final.parent) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{detail.version}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        signer = _fetch_and_check(
            client, detail, staging, namespace, instance, allow_unsigned, progress
        )
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in reversed(created):  # the directories this pull made, if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return InstalledPlugin(
        name=name,
        version=detail.version,
        directory=final,
        component=final / str(detail.component.filename),
        signer=signer,
        yanked=detail.yanked,
    )


def _check_names(detail: VersionDetail, name: str, version: str | None) -> None:
    """Refuse an answer whose names could not be this plugin's, before any path is built."""
    if detail.name != name:
        raise DownloadRejected(f"the registry answered for {detail.name[:140]!r}, not {name}")
    if len(detail.version) > MAX_VERSION_CHARS or not _VERSION.fullmatch(detail.version):
        raise DownloadRejected(
            f"the registry named the version {detail.version[:140]!r}, which is not a "
            "semantic version: refusing it"
        )
    if version is not None and detail.version != version:
        raise DownloadRejected(
            f"the registry answered with version {detail.version!r}, not {version}"
        )
    if not _SAFE_FILE.fullmatch(detail.component.filename or ""):
        raise DownloadRejected(
            f"the registry named an unsafe component file {detail.component.filename!r}"
        )


def _fetch_and_check(
    client: RegistryClient,
    detail: VersionDetail,
    staging: Path,
    namespace: str,
    instance: SigstoreInstance,
    allow_unsigned: bool,
    progress: Progress | None,
) -> str | None:
    component_name = str(detail.component.filename)
    client.download(
        detail.download.manifest,
        staging / MANIFEST_FILE_NAME,
        expected_sha256=detail.manifest.sha256,
        expected_size=detail.manifest.size,
    )
    client.download(
        detail.download.component,
        staging / component_name,
        expected_sha256=detail.component.sha256,
        expected_size=detail.component.size,
        progress=progress,
    )
    manifest_bytes = (staging / MANIFEST_FILE_NAME).read_bytes()
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestInvalid as exc:
        raise DownloadRejected(f"the downloaded manifest is invalid: {exc}") from None
    if (manifest.name, manifest.version, manifest.component) != (
        detail.name,
        detail.version,
        component_name,
    ):
        raise DownloadRejected("the downloaded manifest does not describe the requested plugin")
    signers = client.namespace(namespace).trusted_signers
    if detail.bundle is None or detail.download.bundle is None:
        if signers or not allow_unsigned:
            raise DownloadRejected(
                f"{detail.name} {detail.version} has no signature bundle; pass --allow-unsigned "
                "only for a registry you trust without signatures"
            )
        return None
    bundle_path = staging / f"{component_name}{BUNDLE_SUFFIX}"
    client.download(
        detail.download.bundle,
        bundle_path,
        expected_sha256=detail.bundle.sha256,
        expected_size=detail.bundle.size,
    )
    if not signers:
        if allow_unsigned:
            return None
        raise DownloadRejected(
            f"namespace {namespace} lists no trusted signers, so the signature cannot be checked; "
            "pass --allow-unsigned only for a registry you trust without signatures"
        )
    publishers = [TrustedPublisher(identity=s.identity, issuer=s.issuer) for s in signers]
    try:
        verified = verify_plugin_bundle(
            bundle_path.read_bytes(),
            PluginFiles.from_bytes(
                manifest=manifest_bytes, component=(staging / component_name).read_bytes()
            ),
            policy=TrustPolicy({namespace: publishers}),
            verifier=instance.verifier(offline=True),
        )
    except (SignatureVerificationError, SigningError) as exc:
        raise DownloadRejected(f"the signature does not verify: {exc}") from None
    return f"{verified.signer.identity} ({verified.signer.issuer})"
