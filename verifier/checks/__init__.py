"""The checks an upload must pass, each a function over bytes (or facts) and settings.

Order: manifest, size budget, component structure, imports, exports, behaviour in the
sandbox, signature. Each returns a :class:`verifier.report.CheckResult`.
"""

from __future__ import annotations

__all__ = ["CHECK_ORDER"]

CHECK_ORDER: tuple[str, ...] = (
    "manifest",
    "size-budget",
    "component-structure",
    "imports",
    "exports",
    "behaviour",
    "signature",
)
