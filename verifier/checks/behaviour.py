"""Check 6, behaviour in the sandbox, judged from what the isolation child recorded.

describe() must return a JSON array of tools (name, description, input schema); every
``[[tests]]`` vector must end as expected; every described tool that no vector covers is
called once with ``{}`` and must answer (ok or an error of its own); no run may hit a limit,
trap, or flood the log; and a host call
the manifest did not permit fails the check: a plugin that reaches for more than it declared
is rejected, not merely contained.
"""

from __future__ import annotations

from typing import Any

import msgspec

from client.decoding import Undecodable, decode_json
from client.host.audit import AuditEntry
from client.host.tools import parse_describe
from verifier.isolation.protocol import AnalyseResult
from verifier.report import CheckResult

NAME = "behaviour"


def undeclared_calls(audit: list[AuditEntry]) -> list[str]:
    """Host calls the sandbox denied (log rate limiting is counted apart: see log_floods)."""
    return [
        f"{entry.function}({entry.params}): {entry.error}"
        for entry in audit
        if not entry.permitted and entry.function != "log"
    ]


def log_floods(audit: list[AuditEntry]) -> int:
    """How many times the plugin ran into the log rate limit."""
    return sum(1 for entry in audit if not entry.permitted and entry.function == "log")


def check_behaviour(result: AnalyseResult, max_tools: int) -> CheckResult:
    details: dict[str, Any] = {}
    if not result.ran:
        return CheckResult(name=NAME, passed=False, reason="the plugin was not run")
    if result.load_error:
        return CheckResult(name=NAME, passed=False, reason=result.load_error)
    problems: list[str] = []
    if result.describe_error:
        problems.append(f"describe() failed: {result.describe_error}")
        names: list[str] = []
    else:
        described = parse_describe(result.describe, max_tools=max_tools)
        problems += described.problems
        names = described.names
    details["tools"] = names
    vectors = []
    for vector in result.vectors:
        row = {
            "tool": vector.tool,
            "expect": vector.expect,
            "outcome": vector.outcome,
            "fuel_used": vector.fuel_used,
            "detail": vector.detail[:512],
        }
        vectors.append(row)
        if vector.probe:
            row["probe"] = True
            if vector.outcome in ("trap", "refused"):
                problems.append(
                    f"tool {vector.tool!r}, called with {{}} (it has no test vector), did not "
                    f"finish: {vector.detail}"
                )
            continue
        if names and vector.tool not in names:
            problems.append(f"test vector names tool {vector.tool!r}, which describe() lacks")
        if vector.outcome in ("trap", "refused"):
            problems.append(f"test vector {vector.tool!r} did not finish: {vector.detail}")
        elif vector.outcome != vector.expect:
            problems.append(
                f"test vector {vector.tool!r} expected {vector.expect} but got "
                f"{vector.outcome}: {vector.detail[:200]}"
            )
        elif vector.outcome == "ok":
            try:
                decode_json(vector.detail, what=f"the output of test vector {vector.tool!r}")
            except Undecodable as exc:
                problems.append(str(exc))
    details["vectors"] = vectors
    counts = result.audit_counts
    details["audit_counts"] = msgspec.to_builtins(counts)
    floods = log_floods(result.audit)
    if floods:
        problems.append(
            f"the plugin logged faster than the host's rate limit ({floods} time(s)); "
            "log less, or only on errors"
        )
    denied = undeclared_calls(result.audit)
    if denied:
        details["denied_calls"] = denied
        problems += [
            f"the plugin made a host call its manifest does not permit: {c}" for c in denied
        ]
    if counts.denied_dropped:
        problems.append(
            f"the plugin made {counts.denied:,} host calls its sandbox denied, more than the "
            f"audit log keeps ({counts.denied_dropped:,} not kept): a verdict needs every one"
        )
    if problems:
        details["problems"] = problems
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return CheckResult(name=NAME, passed=False, reason=problems[0] + extra, details=details)
    return CheckResult(
        name=NAME,
        passed=True,
        reason=f"describe() lists {len(names)} tool(s); {len(vectors)} run(s) "
        "ended as expected within the limits, with no undeclared host call",
        details=details,
    )
