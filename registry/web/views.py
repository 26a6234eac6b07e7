"""The view-model: domain data (a manifest, a verification report, a Sigstore bundle) turned
into what the pages show, in plain words. Pure functions over bytes and dicts, no I/O.

Every string here that came from a plugin stays a plain ``str``: the templates escape it (HTML
autoescape, and control, format and bidi characters written as visible escapes).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from client.host.limits import DEFAULT_LIMITS
from client.host.settings import SizeBudget
from client.manifest import parse_network_entry
from verifier.report import CheckResult, VerificationReport

__all__ = [
    "AuditRow",
    "CheckRow",
    "ResourceRow",
    "SignerFacts",
    "SizeFacts",
    "VersionFacts",
    "human_bytes",
    "permission_lines",
    "resource_rows",
    "tlog_entry",
    "version_facts",
]

MIB = 1024 * 1024
MAX_EXAMPLES = 5
"""Distinct parameter summaries shown per host function in the audit table."""


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    if size < MIB:
        return f"{size / 1024:,.1f} KiB"
    return f"{size / MIB:,.1f} MiB"


def _network_words(entry: str) -> str:
    try:
        grant = parse_network_entry(entry)
    except ValueError:
        return f"connects to {entry}"
    host = f"[{grant.host}]" if ":" in grant.host else grant.host
    where = f"any host under {host[2:]}" if host.startswith("*.") else host
    return f"connects to {where}" + (f" on port {grant.port}" if grant.port else "")


def _file_words(entry: str) -> str:
    if entry in (".", "./"):
        return "reads and writes any file in its own folder"
    return f"reads and writes files under {entry} in its own folder"


def permission_lines(permissions: dict[str, Any]) -> list[str]:
    """What a plugin may touch, one plain sentence per grant (and per thing it may not)."""
    network = list(permissions.get("network") or [])
    files = list(permissions.get("filesystem") or [])
    env = list(permissions.get("env") or [])
    lines = [_network_words(e) for e in network] or ["no network access"]
    lines += [_file_words(e) for e in files] or ["no file access"]
    lines += [f"reads the {e} setting" for e in env] or ["reads no settings"]
    return lines


@dataclass(frozen=True, slots=True)
class ResourceRow:
    label: str
    requested: str
    default: str


def resource_rows(resources: dict[str, Any]) -> list[ResourceRow]:
    """The resources a plugin asks for against the host's defaults."""
    defaults = DEFAULT_LIMITS

    def shown(key: str, render: Any) -> str:
        value = resources.get(key)
        return "the default" if value is None else str(render(value))

    return [
        ResourceRow(
            "fuel per call",
            shown("max_fuel", lambda v: f"{int(v):,}"),
            f"{defaults.fuel:,}",
        ),
        ResourceRow(
            "memory",
            shown("max_memory_mb", lambda v: f"{int(v):,} MiB"),
            f"{defaults.memory_bytes // MIB:,} MiB",
        ),
        ResourceRow(
            "time per call",
            shown("timeout_s", lambda v: f"{float(v):g} s"),
            f"{defaults.timeout_s:g} s",
        ),
        ResourceRow(
            "table elements",
            shown("max_table_elements", lambda v: f"{int(v):,}"),
            f"{defaults.table_elements:,}",
        ),
    ]


@dataclass(frozen=True, slots=True)
class CheckRow:
    name: str
    result: str
    """``passed``, ``failed`` or ``skipped``."""
    reason: str
    duration: str


def _check_row(check: CheckResult) -> CheckRow:
    result = "skipped" if check.skipped else "passed" if check.passed else "failed"
    return CheckRow(check.name, result, check.reason, f"{check.duration_s * 1000:,.1f} ms")


@dataclass(frozen=True, slots=True)
class AuditRow:
    function: str
    declared: list[str]
    """What the manifest declares for this host function (empty: nothing)."""
    permitted: int
    denied: int
    examples: list[tuple[str, bool]] = field(default_factory=list)
    """Distinct parameter summaries observed, each with whether it was permitted."""


_DECLARED_BY = {
    "http-request": "network",
    "read-file": "filesystem",
    "write-file": "filesystem",
    "get-env": "env",
}


def _audit_rows(permissions: dict[str, Any], report: VerificationReport) -> list[AuditRow]:
    permitted: dict[str, int] = defaultdict(int)
    denied: dict[str, int] = defaultdict(int)
    examples: dict[str, dict[str, bool]] = defaultdict(dict)
    for entry in report.audit:
        (permitted if entry.permitted else denied)[entry.function] += 1
        seen = examples[entry.function]
        if len(seen) < MAX_EXAMPLES or entry.params in seen:
            seen[entry.params] = seen.get(entry.params, True) and entry.permitted
    rows = []
    for function in ("http-request", "read-file", "write-file", "get-env", "log"):
        key = _DECLARED_BY.get(function)
        declared = list(permissions.get(key) or []) if key else ["always allowed"]
        rows.append(
            AuditRow(
                function,
                declared,
                permitted[function],
                denied[function],
                list(examples[function].items()),
            )
        )
    for function in sorted(set(permitted) | set(denied)):
        if function not in _DECLARED_BY and function != "log":
            rows.append(
                AuditRow(
                    function,
                    [],
                    permitted[function],
                    denied[function],
                    list(examples[function].items()),
                )
            )
    return rows


@dataclass(frozen=True, slots=True)
class SizeFacts:
    size: int
    gzipped: int | None
    max_size: int
    max_gzipped: int

    @property
    def size_text(self) -> str:
        return human_bytes(self.size)

    @property
    def gzipped_text(self) -> str:
        return "not measured" if self.gzipped is None else human_bytes(self.gzipped)

    @property
    def size_percent(self) -> int:
        return min(100, round(100 * self.size / self.max_size)) if self.max_size else 0

    @property
    def gzipped_percent(self) -> int:
        if self.gzipped is None or not self.max_gzipped:
            return 0
        return min(100, round(100 * self.gzipped / self.max_gzipped))


@dataclass(frozen=True, slots=True)
class SignerFacts:
    identity: str | None
    issuer: str | None
    log_index: int | None
    integrated_at: datetime | None


def tlog_entry(bundle: bytes | None) -> tuple[int | None, datetime | None]:
    """The transparency-log entry index and integration time a Sigstore bundle carries."""
    if not bundle:
        return None, None
    with contextlib.suppress(ValueError, TypeError, AttributeError, IndexError, OverflowError):
        entry = json.loads(bundle)["verificationMaterial"]["tlogEntries"][0]
        index = int(entry["logIndex"]) if "logIndex" in entry else None
        at = (
            datetime.fromtimestamp(int(entry["integratedTime"]), UTC)
            if "integratedTime" in entry
            else None
        )
        return index, at
    return None, None


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """Everything a version page shows that never changes once the version is judged."""

    description: str
    permissions: list[str]
    network_free: bool
    files_free: bool
    resources: list[ResourceRow]
    verdict: str | None
    checks: list[CheckRow]
    failing: CheckRow | None
    audit: list[AuditRow]
    audit_calls: int
    audit_denied: int
    audit_dropped: int
    report_duration: str | None
    signer: SignerFacts
    size: SizeFacts


def version_facts(
    manifest: dict[str, Any], report_json: str | None, bundle: bytes | None, component_size: int
) -> VersionFacts:
    permissions = manifest.get("permissions") or {}
    report = None
    if report_json is not None:
        with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
            report = VerificationReport.from_json(report_json.encode())
    budget = SizeBudget()
    checks = [_check_row(c) for c in report.checks] if report else []
    failing = next((row for row in checks if row.result == "failed"), None)
    by_name = {c.name: c for c in report.checks} if report else {}
    size_details = by_name["size-budget"].details if "size-budget" in by_name else {}
    gzipped = size_details.get("gzipped")
    signature = by_name.get("signature")
    identity = issuer = None
    if signature is not None and signature.passed and not signature.skipped:
        identity = str(signature.details.get("identity") or "") or None
        issuer = str(signature.details.get("issuer") or "") or None
    index, at = tlog_entry(bundle)
    counts = report.audit_counts if report else None
    return VersionFacts(
        description=str(manifest.get("description") or ""),
        permissions=permission_lines(permissions),
        network_free=not permissions.get("network"),
        files_free=not permissions.get("filesystem"),
        resources=resource_rows(manifest.get("resources") or {}),
        verdict=report.verdict if report else None,
        checks=checks,
        failing=failing,
        audit=_audit_rows(permissions, report) if report else [],
        audit_calls=counts.calls if counts else len(report.audit) if report else 0,
        audit_denied=(counts.denied if counts else sum(1 for a in report.audit if not a.permitted))
        if report
        else 0,
        audit_dropped=counts.dropped if counts else 0,
        report_duration=f"{report.duration_s:,.2f} s" if report else None,
        signer=SignerFacts(identity, issuer, index, at),
        size=SizeFacts(
            component_size,
            int(gzipped) if isinstance(gzipped, int) else None,
            report.policy.component_max_bytes if report else budget.component_bytes,
            report.policy.component_max_gzip_bytes if report else budget.component_gzip_bytes,
        ),
    )
