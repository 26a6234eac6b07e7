"""``verify_plugin``: every check over one upload, and the report. The CLI and the Celery task
both call this, so a plugin gets the same verdict either way."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from client.host.audit import AuditCounts, AuditEntry
from client.host.imports import WASI_ALLOWLIST
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
from verifier.isolation import AnalyseJob, AnalyseResult, IsolatedAnalyser, IsolationLimitExceeded
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


@dataclass(frozen=True, slots=True)
class ComponentFindings:
    """Checks 3-6 and what the plugin's runs left behind."""

    checks: list[CheckResult]
    audit: list[AuditEntry]
    audit_counts: AuditCounts | None


def judge_component(
    outcome: AnalyseResult | IsolationLimitExceeded, settings: VerifierSettings, elapsed_s: float
) -> ComponentFindings:
    """Checks 3-6 from what the isolation child found: structure, imports, exports, behaviour
    (each only if the one before passed)."""
    if isinstance(outcome, IsolationLimitExceeded):
        failed = CheckResult(name=STRUCTURE, passed=False, reason=str(outcome))
        return ComponentFindings([_with_duration(failed, elapsed_s)], [], None)
    structure = _with_duration(check_structure(outcome), outcome.compile_s)
    if not structure.passed:
        return ComponentFindings([structure], [], None)
    shape = shape_of(outcome)
    imports = _timed(lambda: check_imports(shape))
    exports = _timed(lambda: check_exports(shape))
    if not (imports.passed and exports.passed):
        return ComponentFindings([structure, imports, exports], [], None)
    behaviour = _with_duration(
        check_behaviour(outcome, settings.max_tools), elapsed_s - outcome.compile_s
    )
    return ComponentFindings(
        [structure, imports, exports, behaviour], list(outcome.audit), outcome.audit_counts
    )


def _analyse_job(upload: PluginUpload, settings: VerifierSettings) -> AnalyseJob:
    return AnalyseJob(
        component=upload.component,
        manifest=upload.manifest,
        cpu_seconds=settings.isolation.cpu_seconds,
        run=True,
        max_describe_bytes=settings.max_describe_bytes,
        max_tools=settings.max_tools,
        max_probes=settings.max_probes,
    )


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
    """Run every check over ``upload`` and return the report (approved only if all pass).

    The steps, in order: the component goes to the isolation child (only bytes within the
    raw size budget ever reach a compiler); while the child compiles, this process checks the
    gzipped size (long on a large component), then, once the child has compiled, the manifest
    (short: checking it earlier would slow a small plugin's compile); then the child's
    findings become checks 3-6, and the signature is checked last. Each step returns its
    results; nothing is shared between them.
    """
    settings = settings or VerifierSettings()
    started = time.perf_counter()
    fits = len(upload.component) <= settings.size_budget.component_bytes
    outcome: AnalyseResult | IsolationLimitExceeded | None = None
    with contextlib.ExitStack() as stack:
        run = (
            stack.enter_context(
                (analyser or shared_analyser(settings)).running(_analyse_job(upload, settings))
            )
            if fits
            else None
        )
        # gzip -9 of a component near the budget takes tens of ms: it runs while the child
        # compiles (whose compile leaves a core idle in its single-threaded tail), not after.
        size_check = _timed(lambda: check_size(upload.component, settings.size_budget))
        if run is not None:
            run.wait_until_compiled()
        manifest_started = time.perf_counter()
        manifest_check, manifest = check_manifest(
            upload.manifest, upload.component_name, upload.component, settings
        )
        manifest_check = _with_duration(manifest_check, time.perf_counter() - manifest_started)
        if run is not None:
            outcome = run.outcome()
    component = (
        judge_component(outcome, settings, time.perf_counter() - started)
        if outcome is not None and size_check.passed
        else ComponentFindings([], [], None)
    )
    checks = [manifest_check, size_check, *component.checks]
    if manifest is None:  # the vectors and permissions it names could not be read
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
        audit=component.audit,
        audit_counts=component.audit_counts,
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
