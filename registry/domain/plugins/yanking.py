"""Yanking and un-yanking a version: an approved version withdrawn from ``latest`` (exact pins
still download it), and back."""

from __future__ import annotations

from client.registry.schemas import VersionDetail
from registry.db import Database, transition
from registry.db.lifecycle import IllegalTransition
from registry.db.models import VersionStatus
from registry.domain.plugins.downloads import DownloadCache
from registry.domain.plugins.versions import require_version, to_detail
from registry.domain.publishers.services import Principal
from registry.errors import Conflict
from registry.queue import VerificationQueue

__all__ = ["set_yanked"]

MAX_REASON_CHARS = 500


def set_yanked(
    db: Database,
    downloads: DownloadCache,
    queue: VerificationQueue,
    principal: Principal,
    namespace: str,
    name: str,
    version: str,
    *,
    yanked: bool,
    reason: str,
) -> VersionDetail:
    principal.require_namespace(namespace)
    with db.session() as session:
        row = require_version(session, namespace, name, version)
        try:
            transition(
                session,
                row,
                VersionStatus.YANKED if yanked else VersionStatus.APPROVED,
                actor=principal.actor,
                reason=reason[:MAX_REASON_CHARS],
            )
        except IllegalTransition as exc:
            raise Conflict(f"{namespace}/{name} {version}: {exc}") from None
        session.flush()
        detail = to_detail(row)
    downloads.forget(namespace, name, version)
    queue.request_publish()  # the plugin's index changed: sign it
    return detail
