"""Version numbers are claimed before files are stored, tokens remember who created them, and a
plugin's public description is its latest approved version's.

* ``version_tombstones.claimed_by``: the version row a number was claimed for; tombstones keep
  the number without build metadata (``1.0.9+a`` and ``1.0.9+b`` are one version), so existing
  ones are cut to it (two that differed only in build metadata become one).
* ``api_tokens.parent_id``: the token that created a token (revoking it revokes its children).
* ``plugins.description`` is set again from each plugin's latest approved version: until now
  every upload, rejected ones included, rewrote it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Semantic Versioning precedence, as in client.manifest (copied: a migration is frozen in time).
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _precedence(version: str) -> tuple[Any, ...]:
    match = _SEMVER.match(version)
    if match is None:
        return (-1, 0, 0, 0, ())
    major, minor, patch, pre = match.group(1, 2, 3, 4)
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def upgrade() -> None:
    with op.batch_alter_table("version_tombstones") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=32), nullable=True))
        batch.create_index(op.f("ix_api_tokens_parent_id"), ["parent_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_api_tokens_parent_id_api_tokens"), "api_tokens", ["parent_id"], ["id"]
        )
    bind = op.get_bind()
    tombstones = sa.table(
        "version_tombstones",
        sa.column("namespace", sa.String),
        sa.column("plugin", sa.String),
        sa.column("version", sa.String),
    )
    with_build = bind.execute(
        sa.select(tombstones.c.namespace, tombstones.c.plugin, tombstones.c.version).where(
            tombstones.c.version.like("%+%")
        )
    ).all()
    for namespace, plugin, version in with_build:
        number = version.partition("+")[0]
        key = (
            (tombstones.c.namespace == namespace)
            & (tombstones.c.plugin == plugin)
            & (tombstones.c.version == number)
        )
        this = (
            (tombstones.c.namespace == namespace)
            & (tombstones.c.plugin == plugin)
            & (tombstones.c.version == version)
        )
        if bind.execute(sa.select(sa.func.count()).where(key)).scalar():
            bind.execute(sa.delete(tombstones).where(this))
        else:
            bind.execute(sa.update(tombstones).where(this).values(version=number))
    plugins = sa.table("plugins", sa.column("id", sa.String), sa.column("description", sa.Text))
    versions = sa.table(
        "plugin_versions",
        sa.column("plugin_id", sa.String),
        sa.column("version", sa.String),
        sa.column("status", sa.String),
        sa.column("manifest", sa.JSON),
    )
    latest: dict[str, tuple[tuple[Any, ...], str]] = {}
    for plugin_id, version, manifest in bind.execute(
        sa.select(versions.c.plugin_id, versions.c.version, versions.c.manifest).where(
            versions.c.status == "approved"
        )
    ):
        data = json.loads(manifest) if isinstance(manifest, str) else manifest
        rank = _precedence(version)
        if plugin_id not in latest or rank > latest[plugin_id][0]:
            latest[plugin_id] = (rank, str((data or {}).get("description", "")))
    for (plugin_id,) in bind.execute(sa.select(plugins.c.id)).all():
        description = latest[plugin_id][1] if plugin_id in latest else ""
        bind.execute(
            sa.update(plugins).where(plugins.c.id == plugin_id).values(description=description)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(op.f("fk_api_tokens_parent_id_api_tokens"), type_="foreignkey")
        batch.drop_index(op.f("ix_api_tokens_parent_id"))
        batch.drop_column("parent_id")
    with op.batch_alter_table("version_tombstones") as batch:
        batch.drop_column("claimed_by")
