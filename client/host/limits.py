"""Resource limits of one plugin call: the seed's defaults, its hard maxima, and clamping.

A plugin's manifest *requests* limits; operator configuration may set them per plugin; either
way the result is clamped to the hard maxima, which nothing can raise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from client.manifest import ResourceRequest

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """What one plugin call may consume."""

    fuel: int = 1_000_000_000
    """Fuel units per call (roughly one per WebAssembly instruction; 1e9 is about 1 s of CPU)."""
    memory_bytes: int = 16 * MIB
    """Linear memory across the plugin's memories, in bytes."""
    table_elements: int = 10_000
    """Elements of any one WebAssembly table."""
    timeout_s: float = 30.0
    """Wall-clock time per call, host functions included."""
    instances: int = 10
    """Core and component instances the plugin may create."""
    tables: int = 10
    """WebAssembly tables the plugin may create."""
    memories: int = 2
    """Linear memories the plugin may create."""

    def clamped(self, maxima: ResourceLimits | None = None) -> ResourceLimits:
        """These limits with every field cut to ``maxima`` (the hard maxima by default)."""
        top = HARD_MAXIMA if maxima is None else maxima
        return ResourceLimits(
            fuel=max(1, min(self.fuel, top.fuel)),
            memory_bytes=max(0, min(self.memory_bytes, top.memory_bytes)),
            table_elements=max(0, min(self.table_elements, top.table_elements)),
            timeout_s=max(0.001, min(self.timeout_s, top.timeout_s)),
            instances=max(1, min(self.instances, top.instances)),
            tables=max(0, min(self.tables, top.tables)),
            memories=max(0, min(self.memories, top.memories)),
        )


DEFAULT_LIMITS = ResourceLimits()
HARD_MAXIMA = ResourceLimits(
    fuel=10_000_000_000,
    memory_bytes=256 * MIB,
    table_elements=100_000,
    timeout_s=300.0,
    instances=10,
    tables=10,
    memories=2,
)


def resolve_limits(
    *requests: ResourceRequest | None, base: ResourceLimits = DEFAULT_LIMITS
) -> ResourceLimits:
    """Apply ``requests`` in order (later ones win) over ``base``, then clamp to the maxima."""
    limits = base
    for request in requests:
        if request is None:
            continue
        if request.max_fuel is not None:
            limits = replace(limits, fuel=request.max_fuel)
        if request.max_memory_mb is not None:
            limits = replace(limits, memory_bytes=request.max_memory_mb * MIB)
        if request.timeout_s is not None:
            limits = replace(limits, timeout_s=float(request.timeout_s))
        if request.max_table_elements is not None:
            limits = replace(limits, table_elements=request.max_table_elements)
    return limits.clamped()
