"""Checks 3-5 over what the isolation child found: structure, imports, exports."""

from __future__ import annotations

from client.host.imports import ComponentShape, judge_shape
from verifier.isolation.protocol import AnalyseResult
from verifier.report import CheckResult

STRUCTURE = "component-structure"
IMPORTS = "imports"
EXPORTS = "exports"


def shape_of(result: AnalyseResult) -> ComponentShape:
    return ComponentShape(imports=dict(result.imports), exports=dict(result.exports))


def check_structure(result: AnalyseResult) -> CheckResult:
    if not result.compiled:
        return CheckResult(
            name=STRUCTURE,
            passed=False,
            reason=result.compile_error or "the component could not be compiled",
        )
    return CheckResult(
        name=STRUCTURE,
        passed=True,
        reason="a valid WebAssembly component",
    )


def check_imports(shape: ComponentShape) -> CheckResult:
    offending = judge_shape(shape).imports
    if offending:
        return CheckResult(
            name=IMPORTS,
            passed=False,
            reason=f"{len(offending)} import(s) the sandbox refuses (it provides the host "
            f"interface and the WASI allowlist, without timers): {'; '.join(offending)}",
            details={"offending": offending, "imports": sorted(shape.imports)},
        )
    return CheckResult(
        name=IMPORTS,
        passed=True,
        reason="every import is provided by the sandbox",
        details={"imports": sorted(shape.imports)},
    )


def check_exports(shape: ComponentShape) -> CheckResult:
    problems = judge_shape(shape).exports
    if problems:
        return CheckResult(
            name=EXPORTS,
            passed=False,
            reason="; ".join(problems),
            details={"problems": problems, "exports": sorted(shape.exports)},
        )
    return CheckResult(
        name=EXPORTS,
        passed=True,
        reason="exports clawft:plugin/tool with describe and invoke of the world's types",
        details={"exports": sorted(shape.exports)},
    )
