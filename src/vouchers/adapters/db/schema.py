"""The database schema as SQLAlchemy Core tables; Alembic migrations are written from it.

Amounts are integers in minor units (``*_minor``), timestamps are UTC (``*_at``),
enumerations are stored as their lower-case values. Secret material is only ever a
digest and a ciphertext, both ``NULL`` once a voucher is purged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite makes an INTEGER PRIMARY KEY the rowid; BIGINT would add a second index.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

voucher_types = Table(
    "voucher_types",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alternative_code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("value_option", String(8), nullable=False),
    Column("value_minor", BigInteger),
    Column("extra_value_minor", BigInteger, nullable=False, default=0),
    Column("minimum_activation_minor", BigInteger, nullable=False, default=0),
    Column("multiplier", String(16), nullable=False, default="1"),
    Column("addition_minor", BigInteger, nullable=False, default=0),
    Column("products", JSON, nullable=False),
    Column("product_types", JSON, nullable=False),
    Column("code_alphabet", String(16), nullable=False),
    Column("code_symbols", String(256)),
    Column("code_length", SmallInteger, nullable=False),
    Column("code_prefix", String(12), nullable=False, default=""),
    Column("code_group_size", SmallInteger, nullable=False),
    Column("code_check", String(16), nullable=False),
    Column("code_allow_weak", Boolean, nullable=False, default=False),
    Column("default_payment_type", String(32), nullable=False),
    Column("plan_code", String(32)),
    Column("per_customer", String(16), nullable=False, default="unlimited"),
    Column("first_topup_only", Boolean, nullable=False, default=False),
    Column("kyc_required", Boolean, nullable=False, default=False),
    Column("validity_days", Integer),
    Column("auto_activate", Boolean, nullable=False, default=False),
    Column("notes", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    CheckConstraint("value_minor IS NULL OR value_minor >= 0", name="value_non_negative"),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alternative_code", String(32), nullable=False, unique=True),
    Column("type_id", ForeignKey("voucher_types.id"), nullable=False, index=True),
    Column("count", Integer, nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("extra_value_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("prefix", String(12)),
    Column("description", Text, nullable=False, default=""),
    Column("state", String(8), nullable=False),
    Column("generated_count", Integer, nullable=False, default=0),
    Column("first_number", BigInteger),
    Column("block_start", Integer, nullable=False, default=0),
    Column("generated_by", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("posted_at", UtcDateTime),
    CheckConstraint("count > 0", name="count_positive"),
    CheckConstraint("generated_count <= count", name="generated_within_count"),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("number", Id, primary_key=True, autoincrement=False),
    Column("lot_id", ForeignKey("lots.id"), nullable=False),
    Column("type_id", ForeignKey("voucher_types.id"), nullable=False),
    Column("state", String(12), nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("extra_value_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("lookup_digest", LargeBinary(32)),
    Column("lookup_key_id", SmallInteger),
    Column("ciphertext", LargeBinary(80)),
    Column("data_key_id", SmallInteger),
    Column("code_tail", String(4)),
    Column("customer_id", BigInteger),
    Column("used_at", UtcDateTime),
    Column("used_by", BigInteger),  # the customer who redeemed it
    Column("notes", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index("uq_vouchers_lookup_digest", "lookup_digest", unique=True),
    Index("ix_vouchers_lot_id_number", "lot_id", "number"),
    # A customer's vouchers, in number order (partial: generation leaves both NULL).
    Index(
        "ix_vouchers_customer_id_number",
        "customer_id",
        "number",
        postgresql_where=text("customer_id IS NOT NULL"),
        sqlite_where=text("customer_id IS NOT NULL"),
    ),
    Index(
        "ix_vouchers_used_by_number",
        "used_by",
        "number",
        postgresql_where=text("used_by IS NOT NULL"),
        sqlite_where=text("used_by IS NOT NULL"),
    ),
)

voucher_history = Table(
    "voucher_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("voucher_number", ForeignKey("vouchers.number"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("process", String(32), nullable=False),
    Column("from_value", Text),
    Column("to_value", Text),
    Column("at", UtcDateTime, nullable=False),
    Column("by", String(100), nullable=False),
    Column("run_id", BigInteger),
    Column("note", Text),
    Index("ix_voucher_history_voucher_number_at", "voucher_number", "at"),
)

business_definitions = Table(
    "business_definitions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alternative_code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("restrictions", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    # At most one active definition: a partial unique index on both databases.
    Index(
        "uq_business_definitions_single_active",
        "active",
        unique=True,
        postgresql_where=text("active"),
        sqlite_where=text("active"),
    ),
)

process_runs = Table(
    "process_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("process", String(16), nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("scheduled_for", UtcDateTime, nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime),
    Column("worker", String(100)),
    Column("done", BigInteger, nullable=False, default=0),
    Column("total", BigInteger),
    Column("count", BigInteger),
    Column("error", Text),
    Column("approved_by", String(100)),
    Column("approved_at", UtcDateTime),
    Column("result_file", Text),  # an export's file while it is kept
    Column("file_expires_at", UtcDateTime),
    Index("ix_process_runs_status_scheduled_for", "status", "scheduled_for"),
)

# What each export run wrote to its file, as ranges of consecutive voucher numbers
# (docs/exports.md, "History of an export"): a voucher's history shows "exported in run N
# by U" for every range that covers its number, instead of a history row per voucher.
export_ranges = Table(
    "export_ranges",
    metadata,
    Column("run_id", ForeignKey("process_runs.id"), primary_key=True),
    Column("first_number", BigInteger, primary_key=True),
    Column("last_number", BigInteger, nullable=False),
    Column("exported_at", UtcDateTime, nullable=False),
    CheckConstraint("first_number <= last_number", name="ordered"),
    # Which runs cover number N: first_number <= N AND last_number >= N.
    Index("ix_export_ranges_first_number_last_number", "first_number", "last_number"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("external_ref", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("phone", String(32)),
    Column("email", String(254)),
    Column("kyc_verified", Boolean, nullable=False, default=False),
    Column("status", String(8), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
)

wallets = Table(
    "wallets",
    metadata,
    Column("customer_id", ForeignKey("customers.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("paid_minor", BigInteger, nullable=False),
    Column("bonus_minor", BigInteger, nullable=False),
    CheckConstraint("paid_minor >= 0", name="paid_non_negative"),
    CheckConstraint("bonus_minor >= 0", name="bonus_non_negative"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("by", String(100), nullable=False),
    Column("memo", Text, nullable=False, default=""),
    Column("redemption_id", BigInteger),
    Column("reference", String(100)),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entry_id", ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account", String(24), nullable=False),
    Column("customer_id", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Index("ix_postings_customer_id_entry_id", "customer_id", "entry_id"),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("voucher_number", ForeignKey("vouchers.number"), nullable=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("type_id", BigInteger, nullable=False),
    Column("lot_id", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("topup_minor", BigInteger, nullable=False),
    Column("bonus_minor", BigInteger, nullable=False),
    Column("toward_purchase", Boolean, nullable=False),
    Column("payment_type", String(32), nullable=False),
    Column("product", String(100)),
    Column("purchase_reference", String(100)),
    Column("payment_reference", String(100)),
    Column("client_address", String(64)),
    Column("caller", String(100)),
    Column("idempotency_key", String(100)),
    Column("status", String(12), nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=False),
    Column("redeemed_by", String(100), nullable=False),
    Column("reversed_at", UtcDateTime),
    Column("reversed_by", String(100)),
    Index("ix_redemptions_customer_id_type_id", "customer_id", "type_id"),
    Index("ix_redemptions_customer_id_lot_id", "customer_id", "lot_id"),
    # The backstop of "exactly once": one completed redemption per voucher.
    Index(
        "uq_redemptions_voucher_number_completed",
        "voucher_number",
        unique=True,
        postgresql_where=text("status = 'completed'"),
        sqlite_where=text("status = 'completed'"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("caller", String(100), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("operation", String(32), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(100), nullable=False),
)

setting_changes = Table(
    "setting_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("at", UtcDateTime, nullable=False),
    Column("by", String(100), nullable=False),
)

failed_attempts = Table(
    "failed_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_failed_attempts_scope_subject_kind_at", "scope", "subject", "kind", "at"),
)

lockouts = Table(
    "lockouts",
    metadata,
    Column("scope", String(8), primary_key=True),
    Column("subject", String(100), primary_key=True),
    Column("until", UtcDateTime, nullable=False),
    Column("strikes", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Index("ix_events_delivered_at_id", "delivered_at", "id"),
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("roles", JSON, nullable=False),  # role names, sorted
    Column("password_hash", String(255), nullable=False),  # Argon2, self-describing
    Column("password_changed_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False, unique=True),  # public: finds the row
    Column("secret_digest", LargeBinary(32), nullable=False),  # SHA-256 of the secret
    Column("roles", JSON, nullable=False),
    Column("customer_id", ForeignKey("customers.id")),  # a key confined to one customer
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("revoked_by", String(100)),
)

# Sign-ins to the console and the portal (docs/api.md): a row per session, found by the
# SHA-256 of the random session id its signed cookie carries, so signing out, a
# deactivated user or a new password end it at once, in every server process.
sessions = Table(
    "sessions",
    metadata,
    Column("id_digest", LargeBinary(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # staff or customer
    Column("name", String(100), nullable=False),  # username, or customer reference
    Column("customer_id", ForeignKey("customers.id")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index("ix_sessions_kind_name", "kind", "name"),
    Index("ix_sessions_expires_at", "expires_at"),
)

# The customer portal (docs/portal.md): a customer's password, set by staff, and the
# signed sign-in links already used (kept until they expire, so a replay is refused).
customer_passwords = Table(
    "customer_passwords",
    metadata,
    Column("customer_id", ForeignKey("customers.id"), primary_key=True),
    Column("password_hash", String(255), nullable=False),  # Argon2, self-describing
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", String(100), nullable=False),
)

portal_link_uses = Table(
    "portal_link_uses",
    metadata,
    Column("use_digest", LargeBinary(32), primary_key=True),  # SHA-256 of the signature
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("used_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_portal_link_uses_expires_at", "expires_at"),
)
