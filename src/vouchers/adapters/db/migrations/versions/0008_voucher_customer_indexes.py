"""Indexes for listing a customer's vouchers: assigned to (customer_id) or redeemed by
(used_by), each with the number for keyset pages.

Partial (only rows that name a customer), so generating millions of unassigned vouchers
writes nothing to them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("customer_id", "used_by"):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_vouchers_{column}_number",
            "vouchers",
            [column, "number"],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    op.drop_index("ix_vouchers_used_by_number", table_name="vouchers")
    op.drop_index("ix_vouchers_customer_id_number", table_name="vouchers")
