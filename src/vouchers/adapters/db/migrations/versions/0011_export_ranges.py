"""Exports recorded per run as ranges of voucher numbers, not one history row per voucher.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "export_ranges",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("first_number", sa.BigInteger(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("first_number <= last_number", name=op.f("ck_export_ranges_ordered")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["process_runs.id"], name=op.f("fk_export_ranges_run_id_process_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "first_number", name=op.f("pk_export_ranges")),
    )
    op.create_index(
        "ix_export_ranges_first_number_last_number",
        "export_ranges",
        ["first_number", "last_number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_export_ranges_first_number_last_number", table_name="export_ranges")
    op.drop_table("export_ranges")
