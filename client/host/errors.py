"""Errors of the plugin host.

Every error carries a message meant for the person running the plugin: what happened, the
figures involved, and what to do about it.

    HostError
     ├── PluginLoadError            the plugin was refused before it ran
     │    ├── ManifestError          clawft-plugin.toml is missing, unreadable or malformed
     │    ├── SizeBudgetExceeded     component or plugin directory over the size budget
     │    ├── NotAComponent          a core module, garbage, or a truncated file
     │    ├── ForbiddenImport        imports outside the host interface and the WASI allowlist
     │    └── MissingExport          no clawft:plugin/tool export of the expected shape
     ├── PluginTrap                  the guest stopped abnormally while running
     │    ├── FuelExhausted          the call used up its fuel budget (CPU)
     │    ├── TimeoutExceeded        the call ran past its wall-clock timeout
     │    ├── StackOverflow          unbounded recursion
     │    └── ResourceLimitExceeded  memory, table or instance limits refused the plugin
     ├── PluginError                 the tool ran and returned an error of its own
     └── InvalidInput                the caller's tool name or input is not acceptable
"""

from __future__ import annotations


class HostError(Exception):
    """Base of every error the plugin host raises; ``str(error)`` is meant for the user."""


class PluginLoadError(HostError):
    """The plugin was refused before it ran."""


class ManifestError(PluginLoadError):
    """The manifest is missing, unreadable or malformed."""


class SizeBudgetExceeded(PluginLoadError):
    """A component or plugin directory is larger than the size budget allows."""

    def __init__(self, what: str, measured: int, allowed: int) -> None:
        self.what = what
        self.measured = measured
        self.allowed = allowed
        super().__init__(
            f"{what} is {measured:,} bytes, over the budget of {allowed:,} bytes; "
            "shrink the plugin (strip debug info, optimise for size) and try again"
        )


class NotAComponent(PluginLoadError):
    """The bytes are not a WebAssembly component (a core module, garbage, or truncated)."""


class ForbiddenImport(PluginLoadError):
    """The component imports something the sandbox does not provide."""

    def __init__(self, offending: list[str]) -> None:
        self.offending = offending
        listed = "; ".join(offending)
        super().__init__(
            f"the component imports what the sandbox does not provide: {listed}. "
            "Plugins may import only clawft:plugin/host@0.1.x and the allowlisted WASI "
            "interfaces, without their timers; reach the network through host.http-request"
        )


class MissingExport(PluginLoadError):
    """The component does not export the tool interface with the expected functions."""


class PluginTrap(HostError):
    """The guest stopped abnormally while running."""


class FuelExhausted(PluginTrap):
    """The call used up its fuel budget."""


class TimeoutExceeded(PluginTrap):
    """The call ran past its wall-clock timeout."""


class StackOverflow(PluginTrap):
    """The guest exhausted its call stack."""


class ResourceLimitExceeded(PluginTrap):
    """A memory, table or instance limit refused the plugin."""


class PluginError(HostError):
    """The tool ran and returned an error of its own."""


class InvalidInput(HostError):
    """The caller's tool name or input is not acceptable (not JSON, too large, …)."""
