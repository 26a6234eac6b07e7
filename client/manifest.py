"""The plugin manifest, ``clawft-plugin.toml``: parsed once into typed, validated structs.

This module checks the shape of a manifest (types, patterns, bounds, and the grammar of every
permission entry), and it is the one parser: the host and the verifier both read manifests
through :func:`parse_manifest`, and read permission entries through
:func:`parse_network_entry` and :func:`parse_filesystem_entry`, so they cannot disagree about
what an entry grants. The verifier adds the policy checks an upload must pass on top
(confusable names, hosts a plugin could never reach, the deny list, hard maxima, …).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from client.decoding import Undecodable, decode_toml

MANIFEST_FILE_NAME = "clawft-plugin.toml"
BUNDLE_SUFFIX = ".sigstore.json"
"""A plugin's Sigstore bundle is ``<component file name>`` + this, beside the component."""
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
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
DEFAULT_PORTS = (80, 443)
"""Ports a ``[permissions] network`` entry without ``:port`` allows."""
MAX_FILESYSTEM_PARTS = 32
_PORT = re.compile(r"^[1-9][0-9]{0,4}$")
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_SEMVER = re.compile(SEMVER_PATTERN)


@dataclass(frozen=True, slots=True)
class NetworkGrant:
    """A ``[permissions] network`` entry: a host (exact, ``*.domain``, or an IP address) and
    the one port it allows, or ``None`` for the default ports 80 and 443."""

    host: str
    port: int | None

    def allows_port(self, port: int) -> bool:
        return port in DEFAULT_PORTS if self.port is None else port == self.port


def parse_network_entry(entry: str) -> NetworkGrant:
    """``host``, ``*.domain``, ``host:port``, ``[ipv6]``, ``[ipv6]:port`` or a bare IPv6
    address; :class:`ValueError` naming the problem for anything else."""
    if not entry or entry != entry.strip():
        raise ValueError(f"network entry {entry!r} is blank or padded with spaces")
    if any(ch in entry for ch in "/@?#\\ \t"):
        raise ValueError(
            f"network entry {entry!r} must be a host name or *.domain, optionally with :port "
            "(no scheme, user or path)"
        )
    host, port_text = entry, None
    if entry.startswith("["):
        close = entry.find("]")
        rest = entry[close + 1 :] if close > 0 else "?"
        if close < 0 or (rest and not rest.startswith(":")):
            raise ValueError(f"network entry {entry!r}: write an IPv6 address as [address]:port")
        host, port_text = entry[1:close], (rest[1:] if rest else None)
        if not _is_ipv6(host):
            raise ValueError(f"network entry {entry!r}: only IPv6 addresses go in brackets")
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    elif entry.count(":") > 1 and not _is_ipv6(entry):
        raise ValueError(f"network entry {entry!r} is not a host, host:port or IPv6 address")
    if not host or any(ord(ch) < 0x21 or ch == "\x7f" for ch in host):
        raise ValueError(f"network entry {entry!r} names no host")
    if "*" in host and (not host.startswith("*.") or "*" in host[1:]):
        raise ValueError(f"network entry {entry!r}: a wildcard is only allowed as *.domain")
    if port_text is None:
        return NetworkGrant(host, None)
    if not _PORT.match(port_text) or int(port_text) > 65535:
        raise ValueError(f"network entry {entry!r}: the port must be a number from 1 to 65535")
    return NetworkGrant(host, int(port_text))


def parse_filesystem_entry(entry: str) -> tuple[str, ...]:
    """The path parts of a ``[permissions] filesystem`` entry: a normalised relative path
    inside the plugin's data directory (``.`` for all of it), with an optional trailing
    ``/``. Blank, padded, absolute or unnormalised entries (``a/./b``, ``a//b``, ``..``) raise
    :class:`ValueError` naming the problem."""
    if not entry.strip():
        raise ValueError(f"filesystem entry {entry!r} is blank")
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in entry):
        raise ValueError(f"filesystem entry {entry!r} contains a control character or backslash")
    if entry.startswith("/"):
        raise ValueError(
            f"filesystem entry {entry!r} must be a relative path inside the data directory"
        )
    body = entry[:-1] if entry.endswith("/") else entry
    if body == ".":
        return ()
    parts = body.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise ValueError(
                f"filesystem entry {entry!r} is not a normalised relative path (write it "
                "without empty, '.' or '..' parts, e.g. data/ or notes/today.txt)"
            )
        if part != part.strip():
            raise ValueError(f"filesystem entry {entry!r} has a part padded with spaces")
    if len(parts) > MAX_FILESYSTEM_PARTS:
        raise ValueError(f"filesystem entry {entry!r} has more than {MAX_FILESYSTEM_PARTS} parts")
    return tuple(parts)


def without_build_metadata(version: str) -> str:
    """``1.0.9+build.5`` → ``1.0.9``: build metadata does not count in a version's precedence
    (Semantic Versioning, item 10), so two versions that differ only there are one version."""
    return version.partition("+")[0]


def version_precedence(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """A sort key in Semantic Versioning precedence: numeric major.minor.patch, a release after
    its pre-releases, pre-release identifiers compared one by one (numbers numerically and
    below words); build metadata ignored. Versions that are not semantic sort first."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, 0, 0, 0, ())
    major, minor, patch, pre = match.group(1, 2, 3, 4)
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split(".")
    )
    return (int(major), int(minor), int(patch), 0, identifiers)


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


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

    def __post_init__(self) -> None:
        for entry in self.network:
            parse_network_entry(entry)
        for entry in self.filesystem:
            parse_filesystem_entry(entry)
        for entry in self.env:
            if not _ENV_NAME.match(entry):
                raise ValueError(f"env entry {entry!r} is not a valid environment variable name")

    def network_grants(self) -> list[NetworkGrant]:
        return [parse_network_entry(entry) for entry in self.network]


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
        return decode_toml(data, type=PluginManifest, what=source)
    except Undecodable as exc:
        raise ManifestInvalid(f"{source} is not a valid plugin manifest: {exc}") from None


def read_manifest_bytes(path: Path) -> bytes:
    """A manifest file's bytes, at most one byte past the limit (``parse_manifest`` refuses
    that)."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestInvalid(f"cannot read manifest {path}: {exc.strerror or exc}") from None


def load_manifest(path: Path) -> PluginManifest:
    """Read and parse a manifest file, bounded in size."""
    return parse_manifest(read_manifest_bytes(path), source=str(path))
