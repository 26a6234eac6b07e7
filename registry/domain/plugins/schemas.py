"""Wire types of the plugin endpoints (registry/API.md).

The client library owns the wire types (the registry may import the client, never the
reverse), so the server answers with exactly what the client decodes.
"""

from __future__ import annotations

import msgspec

from client.registry.schemas import (
    AuditSummary,
    CheckSummary,
    Downloads,
    FileRecord,
    PluginDetail,
    PluginSummary,
    PublishAccepted,
    ReportSummary,
    SearchPage,
    VersionDetail,
    VersionSummary,
)

__all__ = [
    "AuditSummary",
    "CheckSummary",
    "Downloads",
    "FileRecord",
    "PluginDetail",
    "PluginSummary",
    "PublishAccepted",
    "ReportSummary",
    "SearchPage",
    "VersionDetail",
    "VersionSummary",
    "YankRequest",
]


class YankRequest(msgspec.Struct, frozen=True):
    reason: str = ""
