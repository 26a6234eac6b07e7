"""The lifecycle of a plugin version, and the only code that changes its status.

    pending → verifying → approved | rejected        (the verifier)
    pending → approved | rejected                    (a verdict that overtook "verifying")
    approved → yanked → approved                     (publishers: yank and un-yank)

Every transition is recorded as a :class:`StatusEvent` with its actor, in the same
transaction as the change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import PluginVersion, StatusEvent, VerificationJob, utcnow

ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"verifying", "approved", "rejected"}),
    "verifying": frozenset({"approved", "rejected"}),
    "approved": frozenset({"yanked"}),
    "yanked": frozenset({"approved"}),
    "rejected": frozenset(),
}
VERDICTS = frozenset({"approved", "rejected"})


class IllegalTransition(Exception):
    """The requested status change is not part of the lifecycle."""


def transition(
    session: Session, version: PluginVersion, to: str, *, actor: str, reason: str = ""
) -> None:
    """Move ``version`` to ``to`` and record who did it; raise if the move is not allowed."""
    current = version.status
    if to not in ALLOWED.get(current, frozenset()):
        raise IllegalTransition(f"a {current} version cannot become {to}")
    version.status = to
    session.add(
        StatusEvent(
            version_id=version.id, from_status=current, to_status=to, actor=actor, reason=reason
        )
    )


def record_verdict(
    session: Session, version_id: str, report_json: str, verdict: str, *, actor: str = "verifier"
) -> bool:
    """Store the verdict and report once; False (and no change) if a verdict exists already.

    The row is locked (``SELECT … FOR UPDATE`` where the database supports it), so two
    workers finishing the same job record one verdict.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is approved or rejected, not {verdict!r}")
    version = session.execute(
        select(PluginVersion).where(PluginVersion.id == version_id).with_for_update()
    ).scalar_one_or_none()
    if version is None:
        raise LookupError(f"no plugin version has id {version_id}")
    if version.report is not None or version.status not in ("pending", "verifying"):
        return False
    version.report = report_json
    version.verdict_at = utcnow()
    transition(session, version, verdict, actor=actor, reason=f"verification: {verdict}")
    job = session.get(VerificationJob, version_id)
    if job is not None:
        job.state = "done"
    return True
