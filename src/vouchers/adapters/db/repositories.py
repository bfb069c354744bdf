"""SQL repositories: rows in and out of the tables in ``schema``, as domain objects.

Plain SQLAlchemy Core everywhere; the one hot path, inserting generated vouchers, goes to
the driver directly (``COPY`` on PostgreSQL, ``executemany`` on SQLite).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.adapters.db.bulk import insert_vouchers
from vouchers.adapters.db.transitions import (
    apply_modification,
    apply_transition,
    generated_by,
    state_as_of,
)
from vouchers.domain.codes import CheckMethod, CodeFormat, alphabet_from
from vouchers.domain.lots import Lot, LotState
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import (
    BonusRule,
    PerCustomer,
    RedemptionRules,
    ValueOption,
    VoucherKind,
    VoucherType,
)
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import (
    DuplicateError,
    LotNotFoundError,
    StorageError,
    VoucherNotFoundError,
    VoucherTypeNotFoundError,
)
from vouchers.services.ports import (
    HistoryEntry,
    NewVouchers,
    SealedSecret,
    Transition,
    VoucherCriteria,
    VoucherQuery,
)


class SqlCounterRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def allocate(self, name: str, count: int) -> int:
        t = schema.counters
        row = self._c.execute(
            update(t)
            .where(t.c.name == name)
            .values(next_value=t.c.next_value + count)
            .returning(t.c.next_value)
        ).first()
        if row is None:
            raise StorageError(f"counter {name!r} is missing; run 'vouchers db upgrade'")
        return int(row.next_value) - count


class SqlVoucherTypeRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, voucher_type: VoucherType) -> VoucherType:
        values = _voucher_type_values(voucher_type)
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(
                    insert(schema.voucher_types).values(values).returning(schema.voucher_types.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(
                f"a voucher type with alternative code {voucher_type.alternative_code} exists"
            ) from exc
        return self.get(int(new_id))

    def get(self, ref: int | str) -> VoucherType:
        t = schema.voucher_types
        where = t.c.id == ref if isinstance(ref, int) else t.c.alternative_code == ref.upper()
        row = self._c.execute(select(t).where(where)).first()
        if row is None:
            raise VoucherTypeNotFoundError(f"no voucher type {ref!r}")
        return voucher_type_from_row(row)

    def update(self, voucher_type: VoucherType) -> None:
        t = schema.voucher_types
        values = _voucher_type_values(voucher_type)
        for identity in ("alternative_code", "created_at", "created_by"):
            del values[identity]
        self._c.execute(update(t).where(t.c.id == voucher_type.id).values(values))

    def list(self) -> list[VoucherType]:
        t = schema.voucher_types
        rows = self._c.execute(select(t).order_by(t.c.alternative_code))
        return [voucher_type_from_row(row) for row in rows]


class SqlLotRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, lot: Lot) -> Lot:
        values = {
            "alternative_code": lot.alternative_code,
            "type_id": lot.type_id,
            "count": lot.count,
            "value_minor": lot.value_minor,
            "extra_value_minor": lot.extra_value_minor,
            "currency": lot.currency,
            "effective_at": lot.effective_at,
            "expires_at": lot.expires_at,
            "prefix": lot.prefix,
            "description": lot.description,
            "state": lot.state.value,
            "generated_count": lot.generated_count,
            "created_at": lot.created_at,
            "created_by": lot.created_by,
        }
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(
                    insert(schema.lots).values(values).returning(schema.lots.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(
                f"a lot with alternative code {lot.alternative_code} exists"
            ) from exc
        return self.get(int(new_id))

    def get(self, ref: int | str, *, for_update: bool = False) -> Lot:
        t = schema.lots
        where = t.c.id == ref if isinstance(ref, int) else t.c.alternative_code == ref.upper()
        query = select(t, _LOT_TYPE_CODE).where(where)
        if for_update and self._c.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE locks
            query = query.with_for_update()
        row = self._c.execute(query).first()
        if row is None:
            raise LotNotFoundError(f"no lot {ref!r}")
        return _lot_from_row(row)

    def prefixes(self) -> set[tuple[int, str | None]]:
        t = schema.lots
        rows = self._c.execute(select(t.c.type_id, t.c.prefix).distinct())
        return {(int(type_id), prefix) for type_id, prefix in rows}

    def list(self, *, type_id: int | None = None) -> list[Lot]:
        t = schema.lots
        query = select(t, _LOT_TYPE_CODE).order_by(t.c.id.desc())
        if type_id is not None:
            query = query.where(t.c.type_id == type_id)
        return [_lot_from_row(row) for row in self._c.execute(query)]

    def total_count(self, *, type_id: int) -> int:
        t = schema.lots
        query = select(func.coalesce(func.sum(t.c.count), 0)).where(t.c.type_id == type_id)
        return int(self._c.execute(query).scalar_one())

    def amend(self, lot: Lot) -> None:
        t = schema.lots
        self._c.execute(
            update(t)
            .where(t.c.id == lot.id)
            .values(
                count=lot.count,
                state=lot.state.value,
                first_number=None,
                block_start=lot.block_start,
                posted_at=None,
            )
        )

    def modify(self, lot_id: int, changes: dict[str, object]) -> None:
        t = schema.lots
        self._c.execute(update(t).where(t.c.id == lot_id).values(changes))

    def assign_numbers(self, lot_id: int, first_number: int, *, by: str) -> None:
        t = schema.lots
        self._c.execute(
            update(t).where(t.c.id == lot_id).values(first_number=first_number, generated_by=by)
        )

    def record_generated(self, lot_id: int, count: int, *, posted_at: Any | None) -> None:
        t = schema.lots
        values: dict[str, Any] = {"generated_count": t.c.generated_count + count}
        if posted_at is not None:
            values |= {"state": LotState.POSTED.value, "posted_at": posted_at}
        self._c.execute(update(t).where(t.c.id == lot_id).values(values))


class SqlVoucherRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_generated(self, chunk: NewVouchers) -> list[int]:
        return insert_vouchers(self._c, chunk)

    def get(self, number: int) -> Voucher:
        t = schema.vouchers
        row = self._c.execute(select(*_VOUCHER_COLUMNS).where(t.c.number == number)).first()
        if row is None:
            raise VoucherNotFoundError(f"no voucher number {number}")
        return _voucher_from_row(row)

    def find_by_digests(self, digests: Sequence[bytes]) -> Voucher | None:
        t = schema.vouchers
        query = select(*_VOUCHER_COLUMNS).where(t.c.lookup_digest.in_(list(digests)))
        row = self._c.execute(query).first()
        return None if row is None else _voucher_from_row(row)

    def list(
        self,
        *,
        lot_id: int | None = None,
        after: int = 0,
        limit: int = 100,
        query: VoucherQuery | None = None,
    ) -> list[Voucher]:
        # Keyset pagination: "number > after ORDER BY number LIMIT n" walks the primary key
        # (or ix_vouchers_lot_id_number for a lot, the customer indexes for a customer), so
        # a page costs the same at any depth.
        t = schema.vouchers
        if query is not None and query.number_from is not None:
            # One lower bound on the key: given two, SQLite walks from the first one and
            # filters (a range deep in a million vouchers took 200 ms instead of 8).
            after = max(after, query.number_from - 1)
            query = dataclasses.replace(query, number_from=None)
        select_ = select(*_VOUCHER_COLUMNS).where(t.c.number > after)
        if lot_id is not None:
            select_ = select_.where(t.c.lot_id == lot_id)
        if query is not None:
            select_ = select_.where(*_voucher_filters(query))
        rows = self._c.execute(select_.order_by(t.c.number).limit(limit))
        return [_voucher_from_row(row) for row in rows]

    def transition(self, transition: Transition) -> int:
        return apply_transition(self._c, transition)

    def generated_by(self, criteria: VoucherCriteria) -> set[str]:
        return generated_by(self._c, criteria)

    def modify(
        self,
        criteria: VoucherCriteria,
        changes: dict[str, object],
        *,
        actor: str,
        run_id: int | None,
    ) -> int:
        return apply_modification(self._c, criteria, changes, actor=actor, run_id=run_id)

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        if entries:
            self._c.execute(insert(schema.voucher_history), [vars(e) for e in entries])

    def restore_used(self, number: int, *, actor: str, at: Any, note: str) -> None:
        t = schema.vouchers
        changed = self._c.execute(
            update(t)
            .where(t.c.number == number, t.c.state == VoucherState.USED.value)
            .values(state=VoucherState.ACTIVATED.value, used_at=None, used_by=None)
        ).rowcount
        if changed != 1:
            raise StorageError(f"voucher {number} was not used; cannot restore it")
        entry = HistoryEntry(number, "state", "reverse", "used", "activated", at, actor, note=note)
        self.add_history([entry])

    def history(self, number: int) -> builtins.list[HistoryEntry]:
        h = schema.voucher_history
        query = select(h).where(h.c.voucher_number == number).order_by(h.c.at, h.c.id)
        return [
            HistoryEntry(
                voucher_number=row.voucher_number,
                field=row.field,
                process=row.process,
                from_value=row.from_value,
                to_value=row.to_value,
                at=row.at,
                by=row.by,
                run_id=row.run_id,
                note=row.note,
            )
            for row in self._c.execute(query)
        ]

    def secret(self, number: int) -> SealedSecret | None:
        t = schema.vouchers
        row = self._c.execute(
            select(t.c.number, t.c.ciphertext, t.c.data_key_id, t.c.lookup_key_id).where(
                t.c.number == number, t.c.ciphertext.is_not(None)
            )
        ).first()
        if row is None:
            return None
        return SealedSecret(row.number, row.ciphertext, row.data_key_id, row.lookup_key_id)

    def secrets_not_under(
        self, lookup_key_id: int, data_key_id: int, *, after: int, limit: int
    ) -> builtins.list[SealedSecret]:
        t = schema.vouchers
        query = (
            select(t.c.number, t.c.ciphertext, t.c.data_key_id, t.c.lookup_key_id)
            .where(
                t.c.number > after,
                t.c.ciphertext.is_not(None),
                or_(t.c.lookup_key_id != lookup_key_id, t.c.data_key_id != data_key_id),
            )
            .order_by(t.c.number)
            .limit(limit)
        )
        return [
            SealedSecret(row.number, row.ciphertext, row.data_key_id, row.lookup_key_id)
            for row in self._c.execute(query)
        ]

    def reseal(self, rows: Sequence[tuple[int, bytes, int, bytes, int]]) -> None:
        t = schema.vouchers
        statement = (
            update(t)
            .where(t.c.number == bindparam("b_number"))
            .values(
                lookup_digest=bindparam("b_digest"),
                lookup_key_id=bindparam("b_lookup_key_id"),
                ciphertext=bindparam("b_ciphertext"),
                data_key_id=bindparam("b_data_key_id"),
            )
        )
        self._c.execute(
            statement,
            [
                {
                    "b_number": number,
                    "b_digest": digest,
                    "b_lookup_key_id": lookup_id,
                    "b_ciphertext": ciphertext,
                    "b_data_key_id": data_id,
                }
                for number, digest, lookup_id, ciphertext, data_id in rows
            ],
        )


# -- row mapping ---------------------------------------------------------------------------

_LOT_TYPE_CODE = (
    select(schema.voucher_types.c.alternative_code)
    .where(schema.voucher_types.c.id == schema.lots.c.type_id)
    .scalar_subquery()
    .label("type_code")
)

_V = schema.vouchers
_VOUCHER_COLUMNS = (
    _V.c.number,
    _V.c.lot_id,
    _V.c.type_id,
    _V.c.state,
    _V.c.value_minor,
    _V.c.extra_value_minor,
    _V.c.currency,
    _V.c.effective_at,
    _V.c.expires_at,
    _V.c.code_tail,
    _V.c.created_at,
    _V.c.customer_id,
    _V.c.used_at,
    _V.c.used_by,
)


def _voucher_filters(query: VoucherQuery) -> builtins.list[ColumnElement[bool]]:
    t = schema.vouchers
    clauses: builtins.list[ColumnElement[bool]] = []
    if query.states is not None:
        clauses.append(state_as_of(query.now).in_(sorted(s.value for s in query.states)))
    if query.type_id is not None:
        clauses.append(t.c.type_id == query.type_id)
    if query.number_from is not None:
        clauses.append(t.c.number >= query.number_from)
    if query.number_to is not None:
        clauses.append(t.c.number <= query.number_to)
    if query.customer_id is not None:
        clauses.append(or_(t.c.customer_id == query.customer_id, t.c.used_by == query.customer_id))
    if query.text is not None:
        text = query.text.strip()
        clauses.append(
            or_(
                t.c.code_tail == text.upper(),
                func.lower(t.c.notes).contains(text.lower(), autoescape=True),
            )
        )
    return clauses


def _voucher_from_row(row: Any) -> Voucher:
    return Voucher(
        number=row.number,
        lot_id=row.lot_id,
        type_id=row.type_id,
        state=VoucherState(row.state),
        value_minor=row.value_minor,
        extra_value_minor=row.extra_value_minor,
        currency=row.currency,
        effective_at=row.effective_at,
        expires_at=row.expires_at,
        code_tail=row.code_tail,
        created_at=row.created_at,
        customer_id=row.customer_id,
        used_at=row.used_at,
        used_by=row.used_by,
    )


def _voucher_type_values(vt: VoucherType) -> dict[str, Any]:
    fmt = vt.code_format
    return {
        "alternative_code": vt.alternative_code,
        "name": vt.name,
        "kind": vt.kind.value,
        "currency": vt.currency.code,
        "value_option": vt.value_option.value,
        "value_minor": vt.value_minor,
        "extra_value_minor": vt.extra_value_minor,
        "minimum_activation_minor": vt.bonus.minimum_activation_minor,
        "multiplier": str(vt.bonus.multiplier),
        "addition_minor": vt.bonus.addition_minor,
        "products": list(vt.products),
        "product_types": list(vt.product_types),
        "code_alphabet": fmt.alphabet.name,
        "code_symbols": fmt.alphabet.symbols if fmt.alphabet.name == "custom" else None,
        "code_length": fmt.length,
        "code_prefix": fmt.prefix,
        "code_group_size": fmt.group_size,
        "code_check": str(fmt.check),
        "code_allow_weak": fmt.allow_weak,
        "default_payment_type": vt.default_payment_type,
        "plan_code": vt.plan_code,
        "per_customer": vt.rules.per_customer.value,
        "first_topup_only": vt.rules.first_topup_only,
        "kyc_required": vt.rules.kyc_required,
        "validity_days": vt.validity_days,
        "auto_activate": vt.auto_activate,
        "notes": vt.notes,
        "created_at": vt.created_at,
        "created_by": vt.created_by,
    }


def voucher_type_from_row(row: Any) -> VoucherType:
    code_format = CodeFormat(
        alphabet=alphabet_from(row.code_alphabet, row.code_symbols),
        length=row.code_length,
        prefix=row.code_prefix,
        group_size=row.code_group_size,
        check=CheckMethod(row.code_check),
        allow_weak=row.code_allow_weak,
    )
    return VoucherType(
        id=row.id,
        alternative_code=row.alternative_code,
        name=row.name,
        kind=VoucherKind(row.kind),
        currency=currency(row.currency),
        value_option=ValueOption(row.value_option),
        value_minor=row.value_minor,
        extra_value_minor=row.extra_value_minor,
        bonus=BonusRule(
            minimum_activation_minor=row.minimum_activation_minor,
            multiplier=Decimal(row.multiplier),
            addition_minor=row.addition_minor,
        ),
        products=tuple(row.products),
        product_types=tuple(row.product_types),
        code_format=code_format,
        default_payment_type=row.default_payment_type,
        plan_code=row.plan_code,
        rules=RedemptionRules(
            per_customer=PerCustomer(row.per_customer),
            first_topup_only=row.first_topup_only,
            kyc_required=row.kyc_required,
        ),
        validity_days=row.validity_days,
        auto_activate=row.auto_activate,
        notes=row.notes,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _lot_from_row(row: Row[Any]) -> Lot:
    return Lot(
        id=row.id,
        alternative_code=row.alternative_code,
        type_id=row.type_id,
        count=row._mapping["count"],
        value_minor=row.value_minor,
        extra_value_minor=row.extra_value_minor,
        currency=row.currency,
        effective_at=row.effective_at,
        expires_at=row.expires_at,
        prefix=row.prefix,
        description=row.description,
        state=LotState(row.state),
        generated_count=row.generated_count,
        first_number=row.first_number,
        block_start=row.block_start,
        generated_by=row.generated_by,
        type_code=row.type_code,
        created_at=row.created_at,
        created_by=row.created_by,
        posted_at=row.posted_at,
    )
