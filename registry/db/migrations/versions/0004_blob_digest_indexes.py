"""A version's files can be found by digest: ``GET /blobs/sha256/{hex}`` looks each digest up.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_plugin_versions_component_sha256": "component_sha256",
    "ix_plugin_versions_manifest_sha256": "manifest_sha256",
    "ix_plugin_versions_bundle_sha256": "bundle_sha256",
}


def upgrade() -> None:
    for name, column in _INDEXES.items():
        op.create_index(name, "plugin_versions", [column], unique=False)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="plugin_versions")
