"""What the registry's TUF repository lists, as devices read it: the target paths, the custom
metadata of each target, the index files that say which versions a plugin has, and the
signer policy of each namespace.

The registry writes these (``registry.tuf``) and a device reads them only after python-tuf has
verified them against the pinned root, so everything here is signed data; it is still decoded
strictly (bounded, typed), since a compromised online key could sign nonsense.

Target paths (each file is served hash-prefixed: ``<dir>/<sha256>.<name>``):

* ``plugins/<namespace>/<name>/<version>/<salt>/<file>``: the approved component, manifest and
  bundle; the salt puts each in the hash bin of its plugin's index (``registry.tuf.placement``),
  and devices read these paths from the index, never build them;
* ``index/<namespace>/<name>.json``: a :class:`PluginIndex`, every approved or yanked version;
* ``index/<namespace>.json``: a :class:`NamespaceIndex`, the plugins of a namespace;
* ``policy/<namespace>.json``: a :class:`SignerPolicy`, listed by the top-level targets role
  (signed by the offline targets key), never by a hash bin: the online keys cannot change who
  may sign a namespace.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "CUSTOM_KEY",
    "IndexedVersion",
    "NamespaceIndex",
    "PluginIndex",
    "PolicySigner",
    "SignerPolicy",
    "TargetCustom",
    "TargetPart",
    "namespace_index_path",
    "plugin_index_path",
    "policy_path",
]

CUSTOM_KEY = "clawft"
"""The key of this registry's fields in a target's ``custom`` metadata."""


class TargetPart(StrEnum):
    """The files of a version, as targets."""

    COMPONENT = "component"
    MANIFEST = "manifest"
    BUNDLE = "bundle"


class TargetCustom(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``custom.clawft`` of a plugin file target."""

    plugin: str
    """``namespace/name``."""
    version: str
    part: TargetPart
    manifest_sha256: str
    """The signed manifest of this version (its permissions), by digest."""
    report_sha256: str
    """The verification report that approved it, by digest (``…/report`` serves it)."""


class IndexedVersion(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: str
    yanked: bool
    files: dict[TargetPart, str]
    """Each file's target path."""
    report_sha256: str


class PluginIndex(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``index/<namespace>/<name>.json``: the versions a device may choose from."""

    plugin: str
    versions: list[IndexedVersion]


class NamespaceIndex(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``index/<namespace>.json``: the plugins with at least one approved version."""

    namespace: str
    plugins: list[str]


class PolicySigner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    identity: str
    issuer: str


class SignerPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``custom.clawft`` of ``policy/<namespace>.json``: who may sign the namespace's plugins."""

    namespace: str
    signers: list[PolicySigner]


def plugin_index_path(namespace: str, name: str) -> str:
    return f"index/{namespace}/{name}.json"


def namespace_index_path(namespace: str) -> str:
    return f"index/{namespace}.json"


def policy_path(namespace: str) -> str:
    return f"policy/{namespace}.json"
