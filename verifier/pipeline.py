"""``verify_plugin``: every check over one upload, and the report. The CLI and the Celery task
both call this, so a plugin gets the same verdict either way."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from client.host.audit import AuditCounts, AuditEntry
from client.host.imports import WASI_ALLOWLIST
from client.manifest import PluginManifest
from client.signing import SigstoreInstance, TrustedPublisher
from verifier.checks import CHECK_ORDER
from verifier.checks.behaviour import check_behaviour
from verifier.checks.component import (
    STRUCTURE,
    check_exports,
    check_imports,
    check_structure,
    shape_of,
)
from verifier.checks.manifest import check_manifest
from verifier.checks.signature import check_signature
from verifier.checks.size import check_size
from verifier.isolation import AnalyseJob, IsolatedAnalyser, IsolationLimitExceeded
from verifier.report import (
    VERIFIER_VERSION,
    AppliedPolicy,
    CheckResult,
    VerificationReport,
)
from verifier.settings import IsolationLimits, VerifierSettings


@dataclass(frozen=True, slots=True)
class PluginUpload:
    """The bytes of one upload: manifest, component (and its file name), optional bundle."""

    manifest: bytes
    component: bytes
    component_name: str
    bundle: bytes | None = None


def sigstore_instance(settings: VerifierSettings) -> SigstoreInstance:
    return SigstoreInstance.choose(trust_config=settings.trust_config, staging=settings.staging)


_analysers: dict[IsolationLimits, IsolatedAnalyser] = {}
_analysers_lock = threading.Lock()


def shared_analyser(settings: VerifierSettings) -> IsolatedAnalyser:
    """One warm isolation child per set of limits, reused across verifications."""
    limits = settings.isolation
    with _analysers_lock:
        if limits not in _analysers:
            _analysers[limits] = IsolatedAnalyser(limits)
        return _analysers[limits]


def _timed(run: Callable[[], CheckResult]) -> CheckResult:
    started = time.perf_counter()
    result = run()
    return _with_duration(result, time.perf_counter() - started)


def _with_duration(result: CheckResult, seconds: float) -> CheckResult:
    return msgspec.structs.replace(result, duration_s=round(max(seconds, 0.0), 6))


def _analyse(
    upload: PluginUpload,
    settings: VerifierSettings,
    analyser: IsolatedAnalyser,
    meanwhile: Callable[[], object],
) -> tuple[list[CheckResult], list[AuditEntry], AuditCounts | None]:
    """Checks 3-6, from one job in the isolation child; ``meanwhile`` runs as it works."""
    started = time.perf_counter()
    try:
        analysis = analyser.analyse(
            AnalyseJob(
                component=upload.component,
                manifest=upload.manifest,
                cpu_seconds=settings.isolation.cpu_seconds,
                run=True,
                max_describe_bytes=settings.max_describe_bytes,
                max_probes=settings.max_probes,
            ),
            meanwhile=meanwhile,
        )
    except IsolationLimitExceeded as exc:
        failed = CheckResult(name=STRUCTURE, passed=False, reason=str(exc))
        return [_with_duration(failed, time.perf_counter() - started)], [], None
    isolated_s = time.perf_counter() - started
    structure = _with_duration(check_structure(analysis), analysis.compile_s)
    if not structure.passed:
        return [structure], [], None
    shape = shape_of(analysis)
    imports = _timed(lambda: check_imports(shape))
    exports = _timed(lambda: check_exports(shape))
    if not (imports.passed and exports.passed):
        return [structure, imports, exports], [], None
    behaviour = _with_duration(
        check_behaviour(analysis, settings.max_tools), isolated_s - analysis.compile_s
    )
    return [structure, imports, exports, behaviour], list(analysis.audit), analysis.audit_counts


def _not_run(name: str, checks: list[CheckResult]) -> CheckResult:
    failed = [check.name for check in checks if not check.passed and not check.skipped]
    because = f"{', '.join(failed)} failed" if failed else "an earlier check failed"
    return CheckResult(name=name, passed=False, skipped=True, reason=f"not run: {because}")


def verify_plugin(
    upload: PluginUpload,
    *,
    settings: VerifierSettings | None = None,
    publishers: Sequence[TrustedPublisher] = (),
    analyser: IsolatedAnalyser | None = None,
    instance: SigstoreInstance | None = None,
) -> VerificationReport:
    """Run every check over ``upload`` and return the report (approved only if all pass)."""
    settings = settings or VerifierSettings()
    started = time.perf_counter()
    checks: list[CheckResult] = []
    parsed: list[PluginManifest | None] = [None]

    def cheap_checks() -> None:
        """Checks 1 and 2: pure and quick; they run while the child works (once)."""
        if checks:
            return
        manifest_started = time.perf_counter()
        manifest_check, parsed[0] = check_manifest(
            upload.manifest, upload.component_name, upload.component, settings
        )
        checks.append(_with_duration(manifest_check, time.perf_counter() - manifest_started))
        checks.append(_timed(lambda: check_size(upload.component, settings.size_budget)))

    audit: list[AuditEntry] = []
    audit_counts: AuditCounts | None = None
    # Only bytes within the raw budget ever reach the compiler.
    if len(upload.component) <= settings.size_budget.component_bytes:
        analysed, audit, audit_counts = _analyse(
            upload, settings, analyser or shared_analyser(settings), cheap_checks
        )
        cheap_checks()  # if the child failed before the analyser got to them
        if checks[1].passed:
            checks += analysed
        else:
            audit, audit_counts = [], None
    else:
        cheap_checks()
    manifest = parsed[0]
    if manifest is None:
        checks = [c for c in checks if c.name != "behaviour"]
    chosen = instance or sigstore_instance(settings)
    checks.append(
        _timed(
            lambda: check_signature(
                upload.manifest, upload.component, upload.bundle, publishers, chosen
            )
        )
    )
    by_name = {check.name: check for check in checks}
    ordered = [by_name.get(name) or _not_run(name, checks) for name in CHECK_ORDER]
    approved = all(check.passed for check in ordered)
    return VerificationReport(
        verdict="approved" if approved else "rejected",
        plugin=manifest.name if manifest else None,
        version=manifest.version if manifest else None,
        component_sha256=hashlib.sha256(upload.component).hexdigest(),
        manifest_sha256=hashlib.sha256(upload.manifest).hexdigest(),
        verifier_version=VERIFIER_VERSION,
        policy=_applied_policy(settings, publishers, chosen),
        checks=ordered,
        audit=audit,
        audit_counts=audit_counts,
        duration_s=round(time.perf_counter() - started, 6),
    )


VERIFIER_CHECK = "verifier"
"""The name a report gives the verifier's own failure (see :func:`failed_verification`)."""


def failed_verification(
    upload: PluginUpload,
    reason: str,
    *,
    settings: VerifierSettings | None = None,
    publishers: Sequence[TrustedPublisher] = (),
) -> VerificationReport:
    """A rejection for an upload the verifier could not judge: it failed (a bug, an input no
    check foresaw) or could not read the upload. The report says so in a ``verifier`` check
    ahead of the others, which did not run. A verdict, so a version is never left waiting."""
    settings = settings or VerifierSettings()
    checks = [CheckResult(name=VERIFIER_CHECK, passed=False, reason=reason)]
    checks += [
        CheckResult(
            name=name, passed=False, skipped=True, reason="not run: the verifier failed first"
        )
        for name in CHECK_ORDER
    ]
    return VerificationReport(
        verdict="rejected",
        plugin=None,
        version=None,
        component_sha256=hashlib.sha256(upload.component).hexdigest(),
        manifest_sha256=hashlib.sha256(upload.manifest).hexdigest(),
        verifier_version=VERIFIER_VERSION,
        policy=_applied_policy(settings, publishers, None),
        checks=checks,
        audit=[],
        duration_s=0.0,
    )


def _applied_policy(
    settings: VerifierSettings,
    publishers: Sequence[TrustedPublisher],
    instance: SigstoreInstance | None,
) -> AppliedPolicy:
    wasi = sorted(
        f"{package}/{{{','.join(sorted(interfaces))}}}" if interfaces else f"{package}/*"
        for package, interfaces in WASI_ALLOWLIST.items()
    )
    return AppliedPolicy(
        component_max_bytes=settings.size_budget.component_bytes,
        component_max_gzip_bytes=settings.size_budget.component_gzip_bytes,
        wasi_allowlist=wasi,
        isolation_cpu_seconds=settings.isolation.cpu_seconds,
        isolation_memory_bytes=settings.isolation.memory_bytes,
        isolation_scratch_bytes=settings.isolation.scratch_bytes,
        isolation_scratch_entries=settings.isolation.scratch_entries,
        trusted_publishers=sorted(str(p) for p in publishers),
        sigstore_instance=instance.description if instance is not None else "not chosen",
    )
