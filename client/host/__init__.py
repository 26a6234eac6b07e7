"""The sandboxed plugin host that edge devices and the verifier share.

host = PluginHost(HostSettings(cache_dir=Path("~/.cache/clawft").expanduser()))
plugin = host.load(Path("hello/hello.wasm"), data_dir=Path("hello-data"))
print(plugin.invoke("greet", '{"name": "Oslo"}'))
plugin.audit.write_jsonl(Path("audit.jsonl"))
"""

from client.host.audit import AuditCounts, AuditEntry, AuditLog
from client.host.errors import (
    ForbiddenImport,
    FuelExhausted,
    HostError,
    InvalidInput,
    ManifestError,
    MissingExport,
    NotAComponent,
    PluginError,
    PluginLoadError,
    PluginTrap,
    ResourceLimitExceeded,
    SizeBudgetExceeded,
    StackOverflow,
    TimeoutExceeded,
)
from client.host.imports import ComponentShape, ImportPolicy
from client.host.limits import DEFAULT_LIMITS, HARD_MAXIMA, ResourceLimits
from client.host.plugin import CallOutcome, CompiledComponent, Plugin, PluginHost
from client.host.sandbox import PluginSandbox
from client.host.settings import HostSettings, HttpPolicy, RateLimit, SizeBudget
from client.manifest import ResourceRequest

__all__ = [
    "DEFAULT_LIMITS",
    "HARD_MAXIMA",
    "AuditCounts",
    "AuditEntry",
    "AuditLog",
    "CallOutcome",
    "CompiledComponent",
    "ComponentShape",
    "ForbiddenImport",
    "FuelExhausted",
    "HostError",
    "HostSettings",
    "HttpPolicy",
    "ImportPolicy",
    "InvalidInput",
    "ManifestError",
    "MissingExport",
    "NotAComponent",
    "Plugin",
    "PluginError",
    "PluginHost",
    "PluginLoadError",
    "PluginSandbox",
    "PluginTrap",
    "RateLimit",
    "ResourceLimitExceeded",
    "ResourceLimits",
    "ResourceRequest",
    "SizeBudget",
    "SizeBudgetExceeded",
    "StackOverflow",
    "TimeoutExceeded",
]
