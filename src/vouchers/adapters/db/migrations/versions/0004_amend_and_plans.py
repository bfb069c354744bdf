"""Lots amended with more vouchers get a new block of numbers; access types name a plan.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(
            sa.Column("block_start", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("voucher_types") as batch_op:
        batch_op.add_column(sa.Column("plan_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voucher_types") as batch_op:
        batch_op.drop_column("plan_code")
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("block_start")
