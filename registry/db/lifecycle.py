"""The lifecycle of a plugin version, and the only code that changes its status.

    pending → verifying → approved | rejected        (the verifier: record_verdict)
    pending → approved | rejected                    (a verdict that overtook "verifying")
    approved → yanked → approved                     (publishers and admins: yank, un-yank)

Every change is a compare-and-set (``UPDATE … WHERE status = <the status we saw>``), so two
writers racing on one version cannot both win, on SQLite or PostgreSQL, without row locks.
Each is recorded as a :class:`StatusEvent` with its actor in the same transaction.

What the public sees of a plugin (its description, in search and on its page) comes from its
latest approved version only, so it is set here, with the statuses it follows from: an upload
the verifier rejects never rewrites it. So is what the TUF repository lists
(:mod:`registry.db.tuf_targets`): an approval, a yank and an un-yank change the targets in the
same transaction, and the publish task signs them afterwards.
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from client.manifest import version_precedence
from registry.db.models import (
    STATUSES,
    Plugin,
    PluginVersion,
    StatusEvent,
    VerificationJob,
    utcnow,
)
from registry.db.tuf_targets import list_version

ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"verifying", "approved", "rejected"}),
    "verifying": frozenset({"approved", "rejected"}),
    "approved": frozenset({"yanked"}),
    "yanked": frozenset({"approved"}),
    "rejected": frozenset(),
}
VERDICTS = frozenset({"approved", "rejected"})
AWAITING_VERDICT = frozenset({"pending", "verifying"})
ACTOR = re.compile(r"^(verifier|publisher:.+|admin:.+)$")


class IllegalTransition(Exception):
    """The requested status change is not part of the lifecycle (or the version changed first)."""


class VersionNotFound(LookupError):
    """No plugin version has that id."""


def transition(
    session: Session, version: PluginVersion, to: str, *, actor: str, reason: str = ""
) -> None:
    """Move ``version`` to ``to`` and record who did it; :class:`IllegalTransition` (and no
    change) if the lifecycle does not allow it. Verdicts go through :func:`record_verdict`,
    which stores the report with them.

    Yanking stores ``reason`` as ``yanked_reason``; un-yanking clears it.
    """
    _check_actor(actor)
    current = version.status
    if to not in ALLOWED.get(current, frozenset()):
        allowed = ", ".join(sorted(ALLOWED.get(current, ()))) or "nothing (it is final)"
        raise IllegalTransition(
            f"a {current} version cannot become {to}; from {current} it may become {allowed}"
        )
    if current in AWAITING_VERDICT and to in VERDICTS:
        raise IllegalTransition(
            f"a {current} version becomes {to} only with its verification report: "
            "use record_verdict()"
        )
    values: dict[str, Any] = {"status": to}
    if to == "yanked":
        values["yanked_reason"] = reason or None
    elif current == "yanked":
        values["yanked_reason"] = None
    _compare_and_set(session, version, current, values)
    _record_event(session, version, current, to, actor=actor, reason=reason)
    if to in ("approved", "yanked"):  # pending → verifying changes nothing the public sees
        _public_view_changed(session, version)


def record_verdict(
    session: Session, version_id: str, report_json: str, verdict: str, *, actor: str = "verifier"
) -> bool:
    """Store the verdict and its report once: ``pending``/``verifying`` → ``verdict``, the
    report, ``verdict_at``, the event, and the version's job marked ``done``.

    Returns False and changes nothing when a verdict exists already (a redelivered or
    repeated job), however many workers race: the first commit wins.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is approved or rejected, not {verdict!r}")
    _check_actor(actor)
    version = session.get(PluginVersion, version_id)
    if version is None:
        raise VersionNotFound(f"no plugin version has id {version_id}")
    # Two rounds at most: the status may move pending → verifying under us once.
    for _ in range(2):
        if version.verdict_at is not None or version.status not in AWAITING_VERDICT:
            return False
        current = version.status
        values = {"status": verdict, "report": report_json, "verdict_at": utcnow()}
        if _try_compare_and_set(session, version, current, values):
            _record_event(
                session, version, current, verdict, actor=actor, reason=f"verification: {verdict}"
            )
            job = session.get(VerificationJob, version_id)
            if job is not None:
                job.state = "done"
            if verdict == "approved":
                _public_view_changed(session, version)
            return True
        session.refresh(version)
    return False


def _public_view_changed(session: Session, version: PluginVersion) -> None:
    """Bring what the public sees of ``version``'s plugin up to date after its set of
    approved (or yanked) versions changed: its description and its TUF targets.

    The plugin's row is locked first, so two versions of one plugin approved at once (two
    workers) do this one after the other, the second reading what the first committed. Each
    used to read the versions before waiting for the other, and the later commit could set
    the description from a list that missed the other's version."""
    session.execute(select(Plugin.id).where(Plugin.id == version.plugin_id).with_for_update())
    refresh_public_description(session, version.plugin_id)
    list_version(session, version)


def refresh_public_description(session: Session, plugin_id: str) -> None:
    """Set a plugin's description to its latest approved version's (empty when it has none).

    Only the latest one's manifest is read: an approval costs the same however many versions
    the plugin has."""
    approved = session.execute(
        select(PluginVersion.id, PluginVersion.version).where(
            PluginVersion.plugin_id == plugin_id, PluginVersion.status == "approved"
        )
    ).all()
    latest = max(approved, key=lambda row: version_precedence(row.version), default=None)
    manifest = (
        session.scalar(select(PluginVersion.manifest).where(PluginVersion.id == latest.id))
        if latest is not None
        else None
    )
    description = str((manifest or {}).get("description", ""))
    session.execute(update(Plugin).where(Plugin.id == plugin_id).values(description=description))


def _check_actor(actor: str) -> None:
    if not ACTOR.match(actor):
        raise ValueError(
            f"actor {actor!r} is not one of 'verifier', 'publisher:<name>', 'admin:<name>'"
        )


def _try_compare_and_set(
    session: Session, version: PluginVersion, expected: str, values: dict[str, Any]
) -> bool:
    """``UPDATE`` the version only if its status is still ``expected``; True if it was."""
    result = session.execute(
        update(PluginVersion)
        .where(PluginVersion.id == version.id, PluginVersion.status == expected)
        .values(**values)
        .execution_options(synchronize_session="evaluate")
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def _compare_and_set(
    session: Session, version: PluginVersion, expected: str, values: dict[str, Any]
) -> None:
    if not _try_compare_and_set(session, version, expected, values):
        session.refresh(version)
        raise IllegalTransition(
            f"the version changed while this request ran: it is {version.status} now, "
            f"not {expected}; reload it and try again"
        )


def _record_event(
    session: Session, version: PluginVersion, before: str, after: str, *, actor: str, reason: str
) -> None:
    if before not in STATUSES or after not in STATUSES:
        raise IllegalTransition(f"{before!r} → {after!r} is not a move between known statuses")
    session.add(
        StatusEvent(
            version_id=version.id, from_status=before, to_status=after, actor=actor, reason=reason
        )
    )
