"""The plugin manifest, ``clawft-plugin.toml``: parsed once into typed, validated structs.

This module checks the shape of a manifest (types, patterns, bounds). The verifier adds the
policy checks an upload must pass on top (confusable names, hard maxima, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

MANIFEST_FILE_NAME = "clawft-plugin.toml"
MAX_MANIFEST_BYTES = 64 * 1024

_SEGMENT = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
PLUGIN_NAME_PATTERN = rf"^{_SEGMENT}/{_SEGMENT}$"
# Semantic Versioning 2.0.0, https://semver.org (the recommended regular expression).
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
COMPONENT_FILE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.wasm$"

PluginName = Annotated[str, msgspec.Meta(pattern=PLUGIN_NAME_PATTERN, max_length=129)]
Version = Annotated[str, msgspec.Meta(pattern=SEMVER_PATTERN, max_length=128)]
ComponentFile = Annotated[str, msgspec.Meta(pattern=COMPONENT_FILE_PATTERN)]
Entry = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
Entries = Annotated[list[Entry], msgspec.Meta(max_length=64)]


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """Limits asked for by a manifest's ``[resources]`` or an operator's per-plugin table.

    ``None`` means "not asked for": the next source (or the default) applies.
    """

    max_fuel: int | None = None
    max_memory_mb: int | None = None
    timeout_s: float | None = None
    max_table_elements: int | None = None


class Permissions(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """What the plugin may touch; everything else is denied."""

    network: Entries = msgspec.field(default_factory=list)
    """Host names the plugin may reach over http(s): exact names or ``*.domain`` wildcards."""
    filesystem: Entries = msgspec.field(default_factory=list)
    """Relative paths inside the plugin's data directory it may read and write."""
    env: Entries = msgspec.field(default_factory=list)
    """Environment variable names it may read (the deny list still wins)."""


class Resources(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Resource requests; the host clamps them to its hard maxima."""

    max_fuel: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_memory_mb: Annotated[int, msgspec.Meta(ge=1)] | None = None
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_table_elements: Annotated[int, msgspec.Meta(ge=0)] | None = None

    def as_request(self) -> ResourceRequest:
        return ResourceRequest(
            max_fuel=self.max_fuel,
            max_memory_mb=self.max_memory_mb,
            timeout_s=self.timeout_s,
            max_table_elements=self.max_table_elements,
        )


class SmokeTest(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A test vector the verifier runs in the sandbox."""

    tool: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    input: Annotated[str, msgspec.Meta(max_length=65536)]
    expect: Literal["ok", "error"] = "ok"


class PluginManifest(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A parsed ``clawft-plugin.toml``."""

    name: PluginName
    version: Version
    component: ComponentFile
    description: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    permissions: Permissions = msgspec.field(default_factory=Permissions)
    resources: Resources = msgspec.field(default_factory=Resources)
    tests: Annotated[list[SmokeTest], msgspec.Meta(max_length=64)] = msgspec.field(
        default_factory=list
    )

    @property
    def namespace(self) -> str:
        return self.name.split("/", 1)[0]


class ManifestInvalid(ValueError):
    """The manifest could not be read or does not have the expected shape."""


def parse_manifest(data: bytes, *, source: str = MANIFEST_FILE_NAME) -> PluginManifest:
    """Parse and validate manifest bytes; raise :class:`ManifestInvalid` with the reason."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(
            f"{source} is {len(data):,} bytes; a manifest may be at most {MAX_MANIFEST_BYTES:,}"
        )
    try:
        return msgspec.toml.decode(data, type=PluginManifest)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"{source} is not a valid plugin manifest: {exc}") from None


def load_manifest(path: Path) -> PluginManifest:
    """Read and parse a manifest file, bounded in size."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestInvalid(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    return parse_manifest(data, source=str(path))
