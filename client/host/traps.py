"""Turn wasmtime's trap and instantiation errors into the host's specific errors."""

from __future__ import annotations

from client.host.errors import (
    FuelExhausted,
    HostError,
    PluginTrap,
    ResourceLimitExceeded,
    StackOverflow,
    TimeoutExceeded,
)
from client.host.limits import MIB, ResourceLimits
from client.host.timeouts import timeout_message

_RESOURCE_MARKERS = (
    "instance count too high",
    "memory count too high",
    "table count too high",
    "exceeds memory limits",
    "memory minimum size",
    "table minimum size",
    "minimum element size",
    "resource limit exceeded",
    "failed to grow table",
    "forcing a memory growth failure",
)


def classify_trap(message: str, *, plugin: str, what: str, limits: ResourceLimits) -> HostError:
    """A specific error for a wasmtime failure message while running ``what`` of ``plugin``."""
    text = message.strip()
    first = text.splitlines()[0] if text else "unknown failure"
    lowered = text.lower()
    memory_mb = limits.memory_bytes // MIB
    if "all fuel consumed" in lowered:
        return FuelExhausted(
            f"plugin {plugin} used up its fuel budget of {limits.fuel:,} units in {what}; "
            "it is probably looping. Raise [resources] max_fuel (at most 10,000,000,000) "
            "only if the tool really needs more CPU"
        )
    if "wasm trap: interrupt" in lowered or "epoch deadline" in lowered:
        return TimeoutExceeded(timeout_message(plugin, what, limits.timeout_s))
    if "call stack exhausted" in lowered or "stack overflow" in lowered:
        return StackOverflow(
            f"plugin {plugin} exhausted its call stack in {what} (unbounded recursion?)"
        )
    if any(marker in lowered for marker in _RESOURCE_MARKERS):
        return ResourceLimitExceeded(
            f"plugin {plugin} needs more than its limits allow in {what} "
            f"(memory {memory_mb} MB, table elements {limits.table_elements:,}, "
            f"instances {limits.instances}): {first}"
        )
    if "unreachable" in lowered:
        return PluginTrap(
            f"plugin {plugin} aborted in {what} (wasm `unreachable` executed: a plugin aborts "
            "this way on a panic, or when an allocation fails against its limits of "
            f"{memory_mb} MB memory and {limits.table_elements:,} table elements)"
        )
    if "out of bounds" in lowered:
        return PluginTrap(f"plugin {plugin} accessed memory out of bounds in {what}")
    if "exit" in lowered and "status" in lowered:
        return PluginTrap(f"plugin {plugin} called exit in {what}: {first}")
    return PluginTrap(f"plugin {plugin} trapped in {what}: {first}")
