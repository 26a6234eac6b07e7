"""Operator settings of the plugin host: every hard limit in one frozen dataclass.

Read once (defaults, then an optional TOML file) and passed in; never a global.

Example ``host.toml``::

    cache_dir = "/var/cache/clawft/components"
    allowed_private_networks = ["127.0.0.0/8"]   # operators only; plugins can never ask

    [plugins."acme/weather".resources]
    max_fuel = 2_000_000_000
    timeout_s = 60
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.decoding import Undecodable, loads_toml
from client.manifest import ResourceRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class SizeBudget:
    """Size limits checked when a plugin is loaded (the seed's binary size budget)."""

    component_bytes: int = 300 * KIB
    """Largest uncompressed component."""
    component_gzip_bytes: int = 120 * KIB
    """Largest component after gzip."""
    plugin_dir_bytes: int = 10 * MIB
    """Largest plugin directory (every file beside the component, not following links)."""


@dataclass(frozen=True, slots=True)
class DataQuota:
    """What one plugin's data directory may hold; ``None``: no bound."""

    bytes: int | None = 256 * MIB
    """Bytes of the files in it."""
    entries: int | None = 10_000
    """Files and directories in it (empty ones cost no bytes, so they are counted apart)."""


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Bounds of ``host.http-request``."""

    timeout_s: float = 10.0
    """Whole-request time bound (connect, redirects and body), cut to the call's deadline."""
    max_response_bytes: int = 4 * MIB
    """Largest response body handed to the plugin."""
    max_request_body_bytes: int = 4 * MIB
    """Largest request body a plugin may send."""
    max_redirects: int = 5
    """Redirect hops followed; every hop is checked again."""
    max_headers: int = 64
    """Request headers a plugin may set."""
    allowed_private_networks: tuple[IPNetwork, ...] = ()
    """Private or reserved ranges the operator explicitly opens (never the plugin)."""
    ca_bundle: Path | None = None
    """A CA bundle to verify TLS with, instead of the system's."""
    dns_timeout_s: float = 5.0
    """Time bound of one name resolution."""
    offline: bool = False
    """Check every request as usual, then fail the permitted ones without touching the
    network (the verifier runs plugins this way, so verdicts do not depend on the network)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``burst`` calls at once, refilled at ``per_second``."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class HostSettings:
    """Everything the operator can set about the plugin host."""

    cache_dir: Path | None = None
    """Where compiled components are cached; ``None`` disables the cache."""
    epoch_tick_s: float = 0.01
    """Period of the epoch ticker that enforces wall-clock timeouts."""
    size_budget: SizeBudget = field(default_factory=SizeBudget)
    http: HttpPolicy = field(default_factory=HttpPolicy)
    max_write_bytes: int = 4 * MIB
    """Largest ``write-file`` content."""
    data_quota: DataQuota = field(default_factory=DataQuota)
    """What each plugin's data directory may hold (``[data_quota]`` in host.toml)."""
    write_budget_bytes: int | None = None
    """Total ``write-file`` bytes one loaded plugin may write; ``None``: no bound beyond the
    disk. The verifier bounds the runs in its scratch directory with it."""
    durable_writes: bool = True
    """fsync every ``write-file`` before it returns; the verifier's throw-away scratch
    directories do without."""
    max_read_bytes: int = 4 * MIB
    """Largest file ``read-file`` returns."""
    max_log_bytes: int = 4 * KIB
    """Log messages are cut to this many bytes."""
    http_rate: RateLimit = field(default_factory=lambda: RateLimit(per_second=5.0, burst=20))
    """Per-plugin rate of ``http-request`` calls."""
    log_rate: RateLimit = field(default_factory=lambda: RateLimit(per_second=100.0, burst=200))
    """Per-plugin rate of ``log`` calls; the excess is dropped and counted."""
    max_audit_entries: int = 10_000
    """Recent audit entries kept per plugin; older ones are dropped and counted."""
    max_denied_audit_entries: int = 1_000
    """Denied audit entries kept per plugin apart from the recent ones, so that permitted calls
    never push them out; past this many, further denied entries are counted, not kept."""
    max_input_bytes: int = 1 * MIB
    """Largest tool input accepted by ``invoke``."""
    plugin_resources: dict[str, ResourceRequest] = field(default_factory=dict)
    """Per-plugin resource limits (``[plugins.<name>.resources]``), clamped to the maxima."""

    @classmethod
    def from_toml(cls, path: Path) -> HostSettings:
        """Read settings from a TOML file; unknown keys are an error, not silently ignored."""
        try:
            data = loads_toml(path.read_text(encoding="utf-8"), what=str(path))
        except (OSError, UnicodeDecodeError, Undecodable) as exc:
            raise ValueError(f"cannot read host settings {path}: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "settings") -> HostSettings:
        known = {"cache_dir", "allowed_private_networks", "ca_bundle", "plugins", "data_quota"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        try:
            networks = tuple(
                ipaddress.ip_network(str(net)) for net in data.get("allowed_private_networks", [])
            )
        except ValueError as exc:
            raise ValueError(f"{source}: allowed_private_networks: {exc}") from None
        ca_bundle = Path(data["ca_bundle"]) if "ca_bundle" in data else None
        plugins: dict[str, ResourceRequest] = {}
        for name, table in dict(data.get("plugins", {})).items():
            resources = dict(table.get("resources", {}))
            allowed = {"max_fuel", "max_memory_mb", "timeout_s", "max_table_elements"}
            bad = sorted(set(resources) - allowed)
            if bad:
                raise ValueError(f"{source}: plugins.{name}.resources: unknown {', '.join(bad)}")
            for key, value in resources.items():
                if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                    raise ValueError(
                        f"{source}: plugins.{name}.resources.{key} must be a positive number"
                    )
            plugins[name] = ResourceRequest(
                max_fuel=_int_or_none(resources.get("max_fuel")),
                max_memory_mb=_int_or_none(resources.get("max_memory_mb")),
                timeout_s=resources.get("timeout_s"),
                max_table_elements=_int_or_none(resources.get("max_table_elements")),
            )
        cache_dir = Path(data["cache_dir"]) if "cache_dir" in data else None
        return cls(
            cache_dir=cache_dir,
            data_quota=_data_quota(data.get("data_quota", {}), source),
            http=HttpPolicy(allowed_private_networks=networks, ca_bundle=ca_bundle),
            plugin_resources=plugins,
        )


def _data_quota(table: Any, source: str) -> DataQuota:
    if not isinstance(table, dict) or set(table) - {"bytes", "entries"}:
        raise ValueError(f"{source}: data_quota takes bytes and entries")
    for key, value in table.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{source}: data_quota.{key} must be a whole number of at least 0")
    default = DataQuota()
    return DataQuota(
        bytes=table.get("bytes", default.bytes), entries=table.get("entries", default.entries)
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
