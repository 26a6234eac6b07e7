"""Check 2, the size budget (the seed's: < 300 KB raw, < 120 KB gzipped).

A gzip stream presented as a component is recognised and inflated only up to the budget, so a
compression bomb costs the verifier at most that much.
"""

from __future__ import annotations

import zlib

from client.host.budget import gzipped_size
from client.host.settings import SizeBudget
from verifier.report import CheckResult

NAME = "size-budget"
GZIP_MAGIC = b"\x1f\x8b"


def inflated_size_at_most(data: bytes, limit: int) -> tuple[int, bool]:
    """Inflate a gzip stream up to ``limit + 1`` bytes: (bytes produced, whether it stopped)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        produced = len(inflater.decompress(data, limit + 1))
    except zlib.error:
        return 0, False
    return produced, produced > limit


def check_size(component: bytes, budget: SizeBudget) -> CheckResult:
    size = len(component)
    details: dict[str, object] = {
        "size": size,
        "size_allowed": budget.component_bytes,
        "gzipped_allowed": budget.component_gzip_bytes,
    }
    if component[:2] == GZIP_MAGIC:
        inner, over = inflated_size_at_most(component, budget.component_bytes)
        details["gzip_stream"] = True
        details["inflated_at_least" if over else "inflated"] = inner
        state = (
            f"inflates past {budget.component_bytes:,} bytes"
            if over
            else f"inflates to {inner:,} bytes"
        )
        return CheckResult(
            name=NAME,
            passed=False,
            reason=f"the component is a gzip stream ({state}); upload the raw .wasm component",
            details=details,
        )
    if size > budget.component_bytes:
        return CheckResult(
            name=NAME,
            passed=False,
            reason=f"component is {size:,} bytes, over the budget of {budget.component_bytes:,}",
            details=details,
        )
    packed = gzipped_size(component)
    details["gzipped"] = packed
    if packed > budget.component_gzip_bytes:
        return CheckResult(
            name=NAME,
            passed=False,
            reason=(
                f"component is {packed:,} bytes gzipped, over the budget of "
                f"{budget.component_gzip_bytes:,}"
            ),
            details=details,
        )
    return CheckResult(
        name=NAME,
        passed=True,
        reason=f"{size:,} bytes ({packed:,} gzipped) is within the budget",
        details=details,
    )
