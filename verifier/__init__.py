"""The verifier: every check an upload must pass, and the verification report.

    report = verify_plugin(PluginUpload(manifest=..., component=..., component_name="x.wasm"))
    report.verdict  # "approved" | "rejected"

The same ``verify_plugin`` runs behind ``clawft-registry verify`` and the Celery task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from verifier.report import CheckResult, VerificationReport
from verifier.settings import IsolationLimits, VerifierSettings

if _TYPE_CHECKING:
    from verifier.pipeline import PluginUpload, verify_plugin


def __getattr__(name: str) -> _Any:
    # The pipeline (and Sigstore with it, most of a second to import) loads on first use: the
    # isolation child, started again after every failed job, imports this package and never
    # needs it.
    if name in ("PluginUpload", "verify_plugin"):
        from verifier import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'verifier' has no attribute {name!r}")


__all__ = [
    "CheckResult",
    "IsolationLimits",
    "PluginUpload",
    "VerificationReport",
    "VerifierSettings",
    "verify_plugin",
]
