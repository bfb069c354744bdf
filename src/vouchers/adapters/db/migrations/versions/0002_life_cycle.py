"""Life cycle: business definitions, who generated a lot, notes on history entries.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "business_definitions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alternative_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("restrictions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_definitions")),
        sa.UniqueConstraint(
            "alternative_code", name=op.f("uq_business_definitions_alternative_code")
        ),
    )
    op.create_index(
        "uq_business_definitions_single_active",
        "business_definitions",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(sa.Column("generated_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("voucher_history") as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voucher_history") as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("generated_by")
    op.drop_index("uq_business_definitions_single_active", table_name="business_definitions")
    op.drop_table("business_definitions")
