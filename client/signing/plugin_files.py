"""The two files a plugin signature covers: the manifest and the component it names.

Only the fields signing needs are read (``name``, ``version``, ``component``); the full
manifest schema is ``client.manifest``'s business.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sigstore.hashes import Hashed
from sigstore_models.common.v1 import HashAlgorithm

from client.decoding import Undecodable, loads_toml
from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME
from client.signing.errors import PluginFilesError
from client.signing.limits import DEFAULT_LIMITS, SigningLimits, read_bounded

_SEGMENT = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
_PLUGIN_NAME = re.compile(rf"{_SEGMENT}/{_SEGMENT}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,127}")
_COMPONENT_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.wasm")


@dataclass(frozen=True)
class PluginIdentity:
    """Who the plugin says it is: ``name`` (``<namespace>/<name>``), ``version``, component."""

    name: str
    version: str
    component: str

    @property
    def namespace(self) -> str:
        return self.name.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def parse_plugin_identity(manifest: bytes) -> PluginIdentity:
    """Name, version and component file name from the bytes of ``clawft-plugin.toml``."""
    try:
        data = loads_toml(manifest.decode("utf-8"), what="the manifest")
    except (UnicodeDecodeError, Undecodable) as exc:
        raise PluginFilesError(f"the manifest is not valid UTF-8 TOML: {exc}") from exc
    fields: dict[str, str] = {}
    for key, pattern, example in (
        ("name", _PLUGIN_NAME, '"acme/weather"'),
        ("version", _VERSION, '"1.2.0"'),
        ("component", _COMPONENT_FILE, '"weather.wasm"'),
    ):
        value = data.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise PluginFilesError(
                f"the manifest needs a valid `{key}` (for example {key} = {example}); "
                f"found {value!r}"
            )
        fields[key] = value
    return PluginIdentity(**fields)


@dataclass(frozen=True)
class PluginFiles:
    """The manifest and component bytes a plugin signature covers, with the manifest parsed.

    In the signed statement the manifest is always named ``clawft-plugin.toml`` (its role, not
    wherever it happens to sit on disk) and the component by the file name the manifest gives.
    """

    manifest: bytes
    component: bytes
    plugin: PluginIdentity

    @classmethod
    def from_bytes(cls, *, manifest: bytes, component: bytes) -> PluginFiles:
        return cls(manifest=manifest, component=component, plugin=parse_plugin_identity(manifest))


def manifest_path(path: Path) -> Path:
    """The manifest of a plugin given its directory or the manifest itself."""
    return path / MANIFEST_FILE_NAME if path.is_dir() else path


def read_plugin_files(path: Path, *, limits: SigningLimits = DEFAULT_LIMITS) -> PluginFiles:
    """Read a plugin from its directory or manifest path: the manifest and its component."""
    manifest_file = manifest_path(path)
    try:
        manifest = read_bounded(manifest_file, limits.max_manifest_bytes, "manifest")
    except FileNotFoundError as exc:
        raise PluginFilesError(
            f"no plugin manifest at {manifest_file}: pass a plugin directory containing "
            f"{MANIFEST_FILE_NAME}, or the manifest itself"
        ) from exc
    except (OSError, ValueError) as exc:
        raise PluginFilesError(f"cannot read the manifest: {exc}") from exc
    try:
        plugin = parse_plugin_identity(manifest)
    except PluginFilesError as exc:
        raise PluginFilesError(f"{manifest_file}: {exc}") from exc
    component_file = manifest_file.parent / plugin.component
    try:
        component = read_bounded(component_file, limits.max_component_bytes, "component")
    except FileNotFoundError as exc:
        raise PluginFilesError(
            f"the manifest names component {plugin.component!r}, but {component_file} "
            "does not exist: build the plugin first"
        ) from exc
    except (OSError, ValueError) as exc:
        raise PluginFilesError(f"cannot read the component: {exc}") from exc
    return PluginFiles(manifest=manifest, component=component, plugin=plugin)


def default_bundle_path(path: Path, plugin: PluginIdentity) -> Path:
    """``<component>.sigstore.json`` beside the component of the plugin at ``path``."""
    return manifest_path(path).parent / f"{plugin.component}{BUNDLE_SUFFIX}"


def hash_artifact_file(path: Path, *, chunk_size: int = 1 << 20) -> Hashed:
    """The SHA-256 of any file, read in chunks (artifacts may be larger than memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest.digest())
