"""Initial schema: counters, voucher types, lots, vouchers and their history.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:05:03.143809
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite makes an INTEGER PRIMARY KEY the rowid; BIGINT would add a second index.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "voucher_types",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alternative_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_option", sa.String(length=8), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("extra_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("minimum_activation_minor", sa.BigInteger(), nullable=False),
        sa.Column("multiplier", sa.String(length=16), nullable=False),
        sa.Column("addition_minor", sa.BigInteger(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("product_types", sa.JSON(), nullable=False),
        sa.Column("code_alphabet", sa.String(length=16), nullable=False),
        sa.Column("code_symbols", sa.String(length=256), nullable=True),
        sa.Column("code_length", sa.SmallInteger(), nullable=False),
        sa.Column("code_prefix", sa.String(length=12), nullable=False),
        sa.Column("code_group_size", sa.SmallInteger(), nullable=False),
        sa.Column("code_check", sa.String(length=16), nullable=False),
        sa.Column("code_allow_weak", sa.Boolean(), nullable=False),
        sa.Column("default_payment_type", sa.String(length=32), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("auto_activate", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "value_minor IS NULL OR value_minor >= 0",
            name=op.f("ck_voucher_types_value_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_types")),
        sa.UniqueConstraint("alternative_code", name=op.f("uq_voucher_types_alternative_code")),
    )
    op.create_table(
        "lots",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alternative_code", sa.String(length=32), nullable=False),
        sa.Column("type_id", ID, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("extra_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("generated_count", sa.Integer(), nullable=False),
        sa.Column("first_number", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("count > 0", name=op.f("ck_lots_count_positive")),
        sa.CheckConstraint("generated_count <= count", name=op.f("ck_lots_generated_within_count")),
        sa.ForeignKeyConstraint(
            ["type_id"], ["voucher_types.id"], name=op.f("fk_lots_type_id_voucher_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
        sa.UniqueConstraint("alternative_code", name=op.f("uq_lots_alternative_code")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lots_type_id"), ["type_id"], unique=False)

    op.create_table(
        "vouchers",
        sa.Column("number", ID, autoincrement=False, nullable=False),
        sa.Column("lot_id", ID, nullable=False),
        sa.Column("type_id", ID, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("extra_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lookup_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("lookup_key_id", sa.SmallInteger(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(length=80), nullable=True),
        sa.Column("data_key_id", sa.SmallInteger(), nullable=True),
        sa.Column("code_tail", sa.String(length=4), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_vouchers_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["type_id"], ["voucher_types.id"], name=op.f("fk_vouchers_type_id_voucher_types")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_vouchers")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index("ix_vouchers_lot_id_number", ["lot_id", "number"], unique=False)
        batch_op.create_index("uq_vouchers_lookup_digest", ["lookup_digest"], unique=True)

    op.create_table(
        "voucher_history",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("voucher_number", ID, nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("process", sa.String(length=32), nullable=False),
        sa.Column("from_value", sa.Text(), nullable=True),
        sa.Column("to_value", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["voucher_number"],
            ["vouchers.number"],
            name=op.f("fk_voucher_history_voucher_number_vouchers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_history")),
    )
    with op.batch_alter_table("voucher_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voucher_history_voucher_number_at", ["voucher_number", "at"], unique=False
        )

    counters = sa.table(
        "counters", sa.column("name", sa.String), sa.column("next_value", sa.BigInteger)
    )
    op.bulk_insert(
        counters, [{"name": "voucher", "next_value": 1}, {"name": "lot", "next_value": 1}]
    )


def downgrade() -> None:
    with op.batch_alter_table("voucher_history", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_history_voucher_number_at")

    op.drop_table("voucher_history")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index("uq_vouchers_lookup_digest")
        batch_op.drop_index("ix_vouchers_lot_id_number")

    op.drop_table("vouchers")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lots_type_id"))

    op.drop_table("lots")
    op.drop_table("voucher_types")
    op.drop_table("counters")
