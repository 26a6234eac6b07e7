"""Download counts per version, added to in batches by the HTTP processes (never one write
per download).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "download_counts",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.CheckConstraint("downloads >= 0", name=op.f("ck_download_counts_downloads")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["plugin_versions.id"],
            name=op.f("fk_download_counts_version_id_plugin_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_download_counts")),
    )


def downgrade() -> None:
    op.drop_table("download_counts")
