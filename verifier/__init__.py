"""The verifier: every check an upload must pass, and the verification report.

    report = verify_plugin(PluginUpload(manifest=..., component=..., component_name="x.wasm"))
    report.verdict  # "approved" | "rejected"

The same ``verify_plugin`` runs behind ``clawft-registry verify`` and the Celery task.
"""

from verifier.pipeline import PluginUpload, verify_plugin
from verifier.report import CheckResult, VerificationReport
from verifier.settings import IsolationLimits, VerifierSettings

__all__ = [
    "CheckResult",
    "IsolationLimits",
    "PluginUpload",
    "VerificationReport",
    "VerifierSettings",
    "verify_plugin",
]
