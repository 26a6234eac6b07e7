"""The verification report: verdict, every check's result and duration, the policy, the audit.

Encoded as stable JSON (sorted keys), so the registry can store it and show it as is.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from client.host.audit import AuditCounts, AuditEntry

VERIFIER_VERSION = "0.3.0"
"""0.2.0: timeouts stop the run at the timed-out call; a scratch write budget.
0.3.0: WASI timers refused; denied host calls kept apart from the audit ring, and counted."""

Verdict = Literal["approved", "rejected"]


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One check: passed or failed, a one-line reason, and details."""

    name: str
    passed: bool
    reason: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    duration_s: float = 0.0
    skipped: bool = False
    """True when the check did not apply (e.g. no bundle and no publishers given)."""


class AppliedPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The policy the verdict was reached under."""

    component_max_bytes: int
    component_max_gzip_bytes: int
    wasi_allowlist: list[str]
    isolation_cpu_seconds: int
    isolation_memory_bytes: int
    isolation_scratch_bytes: int = 0
    """What a plugin could write to its scratch data directory (0 in reports before 0.2.0)."""
    isolation_scratch_entries: int = 0
    """Files and directories a plugin could make there (0 in reports before 0.3.0)."""
    trusted_publishers: list[str]
    sigstore_instance: str


class VerificationReport(msgspec.Struct, frozen=True, kw_only=True):
    """The whole outcome of verifying one plugin upload."""

    verdict: Verdict
    plugin: str | None
    """``namespace/name`` when the manifest could be read."""
    version: str | None
    component_sha256: str
    manifest_sha256: str
    verifier_version: str
    policy: AppliedPolicy
    checks: list[CheckResult]
    audit: list[AuditEntry]
    """The audit entries kept: every denied one (up to the log's bound) and the most recent."""
    duration_s: float
    audit_counts: AuditCounts | None = None
    """Every host call counted, and how many entries ``audit`` lacks (``None`` before 0.3.0, or
    when the plugin did not run)."""

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def to_json(self) -> bytes:
        return msgspec.json.encode(self, order="sorted")

    @classmethod
    def from_json(cls, data: bytes) -> VerificationReport:
        return msgspec.json.decode(data, type=cls)

    def without_timings(self) -> VerificationReport:
        """The report with durations and timestamps zeroed, to compare two runs."""
        return msgspec.structs.replace(
            self,
            duration_s=0.0,
            checks=[msgspec.structs.replace(c, duration_s=0.0) for c in self.checks],
            audit=[msgspec.structs.replace(a, timestamp=0.0, duration_ms=0.0) for a in self.audit],
        )
