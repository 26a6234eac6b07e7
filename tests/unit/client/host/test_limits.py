"""Resource limits: the seed's defaults and hard maxima, clamping, precedence."""

from __future__ import annotations

from client.host.limits import DEFAULT_LIMITS, HARD_MAXIMA, MIB, resolve_limits
from client.manifest import ResourceRequest


def test_seed_defaults_and_maxima() -> None:
    assert (DEFAULT_LIMITS.fuel, HARD_MAXIMA.fuel) == (1_000_000_000, 10_000_000_000)
    assert (DEFAULT_LIMITS.memory_bytes, HARD_MAXIMA.memory_bytes) == (16 * MIB, 256 * MIB)
    assert (DEFAULT_LIMITS.table_elements, HARD_MAXIMA.table_elements) == (10_000, 100_000)
    assert (DEFAULT_LIMITS.timeout_s, HARD_MAXIMA.timeout_s) == (30.0, 300.0)
    assert (DEFAULT_LIMITS.instances, DEFAULT_LIMITS.tables, DEFAULT_LIMITS.memories) == (10, 10, 2)


def test_requests_are_clamped_to_the_maxima() -> None:
    limits = resolve_limits(
        ResourceRequest(
            max_fuel=10**12, max_memory_mb=4096, timeout_s=10_000, max_table_elements=10**9
        )
    )
    assert limits.fuel == HARD_MAXIMA.fuel
    assert limits.memory_bytes == HARD_MAXIMA.memory_bytes
    assert limits.timeout_s == HARD_MAXIMA.timeout_s
    assert limits.table_elements == HARD_MAXIMA.table_elements


def test_operator_request_wins_over_manifest() -> None:
    manifest = ResourceRequest(max_fuel=500_000_000, timeout_s=10)
    operator = ResourceRequest(max_fuel=2_000_000_000)
    limits = resolve_limits(manifest, operator)
    assert limits.fuel == 2_000_000_000
    assert limits.timeout_s == 10
    assert limits.memory_bytes == DEFAULT_LIMITS.memory_bytes
    assert resolve_limits(None) == DEFAULT_LIMITS


def test_gzip_shortcut_never_underestimates() -> None:
    """The size check skips gzip only when even incompressible bytes would fit."""
    import os

    from client.host.budget import gzip_upper_bound, gzipped_size

    for size in (0, 1, 1000, 65535, 65536, 122_000, 200_000):
        data = os.urandom(size)
        assert gzipped_size(data) <= gzip_upper_bound(size)
