"""Exports as process runs: approval (four-eyes) and the result file with its expiry.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("result_file", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("file_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_runs", schema=None) as batch_op:
        batch_op.drop_column("file_expires_at")
        batch_op.drop_column("result_file")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
