"""The customer portal: customer passwords (set by staff) and used sign-in links.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_passwords",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_passwords_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_passwords")),
    )
    op.create_table(
        "portal_link_uses",
        sa.Column("use_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_link_uses_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("use_digest", name=op.f("pk_portal_link_uses")),
    )
    op.create_index(
        "ix_portal_link_uses_expires_at", "portal_link_uses", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_portal_link_uses_expires_at", table_name="portal_link_uses")
    op.drop_table("portal_link_uses")
    op.drop_table("customer_passwords")
