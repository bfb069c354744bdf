"""The journal and the wallets: entries and postings written together with the balances.

A wallet row is created by its first credit (an upsert), and every posting to a wallet
account moves its balance in the same statement batch as the entry is written. The
``CHECK`` constraints on ``wallets`` are the backstop: a balance that would go negative
fails the statement, which becomes ``InsufficientFundsError`` and rolls everything back.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.ledger import Account, EntryKind, Posting, Wallet, wallet_changes
from vouchers.errors import InsufficientFundsError
from vouchers.services.ports import JournalEntry

_E = schema.journal_entries
_P = schema.postings
_W = schema.wallets


class SqlLedgerRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def post(self, entry: JournalEntry) -> int:
        entry_id = int(
            self._c.execute(
                insert(_E)
                .values(
                    kind=entry.kind.value,
                    at=entry.at,
                    by=entry.by,
                    memo=entry.memo,
                    redemption_id=entry.redemption_id,
                    reference=entry.reference,
                )
                .returning(_E.c.id)
            ).scalar_one()
        )
        write_postings(self._c, entry_id, entry.postings)
        return entry_id

    def wallet(self, customer_id: int, currency: str, *, for_update: bool = False) -> Wallet:
        query = select(_W.c.paid_minor, _W.c.bonus_minor).where(
            _W.c.customer_id == customer_id, _W.c.currency == currency
        )
        row = self._c.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return Wallet(customer_id, currency)
        return Wallet(customer_id, currency, row.paid_minor, row.bonus_minor)

    def wallets(self, customer_id: int) -> builtins.list[Wallet]:
        rows = self._c.execute(
            select(_W).where(_W.c.customer_id == customer_id).order_by(_W.c.currency)
        )
        return [Wallet(r.customer_id, r.currency, r.paid_minor, r.bonus_minor) for r in rows]

    def entries(
        self, *, customer_id: int | None = None, before: int | None = None, limit: int = 50
    ) -> builtins.list[JournalEntry]:
        ids = select(_E.c.id)
        if customer_id is not None:
            ids = select(_P.c.entry_id.label("id")).where(_P.c.customer_id == customer_id)
            ids = ids.group_by(_P.c.entry_id)
        column = ids.selected_columns[0]
        if before is not None:
            ids = ids.where(column < before)
        wanted = [row[0] for row in self._c.execute(ids.order_by(column.desc()).limit(limit))]
        if not wanted:
            return []
        lines: dict[int, list[Posting]] = defaultdict(list)
        for row in self._c.execute(select(_P).where(_P.c.entry_id.in_(wanted)).order_by(_P.c.id)):
            lines[row.entry_id].append(
                Posting(Account(row.account), row.amount_minor, row.currency, row.customer_id)
            )
        rows = self._c.execute(select(_E).where(_E.c.id.in_(wanted)).order_by(_E.c.id.desc()))
        return [
            JournalEntry(
                kind=EntryKind(row.kind),
                postings=tuple(lines[row.id]),
                at=row.at,
                by=row.by,
                memo=row.memo,
                redemption_id=row.redemption_id,
                reference=row.reference,
                id=row.id,
            )
            for row in rows
        ]

    def unbalanced_entries(self) -> builtins.list[tuple[int, str, int]]:
        total = func.sum(_P.c.amount_minor)
        query = (
            select(_P.c.entry_id, _P.c.currency, total)
            .group_by(_P.c.entry_id, _P.c.currency)
            .having(total != 0)
            .order_by(_P.c.entry_id)
        )
        return [(int(e), str(c), int(s)) for e, c, s in self._c.execute(query)]

    def wallet_mismatches(self) -> builtins.list[tuple[int, str, int, int, int, int]]:
        derived: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        query = (
            select(_P.c.customer_id, _P.c.currency, _P.c.account, func.sum(_P.c.amount_minor))
            .where(_P.c.customer_id.is_not(None))
            .group_by(_P.c.customer_id, _P.c.currency, _P.c.account)
        )
        for customer_id, code, account, total in self._c.execute(query):
            derived[(customer_id, code)][0 if account == Account.WALLET_PAID else 1] += int(total)
        stored = {
            (r.customer_id, r.currency): (r.paid_minor, r.bonus_minor)
            for r in self._c.execute(select(_W))
        }
        mismatches = []
        for key in sorted(set(derived) | set(stored)):
            paid, bonus = stored.get(key, (0, 0))
            journal_paid, journal_bonus = derived.get(key, [0, 0])
            if (paid, bonus) != (journal_paid, journal_bonus):
                mismatches.append((*key, paid, journal_paid, bonus, journal_bonus))
        return mismatches

    def totals(self) -> dict[tuple[str, str], int]:
        query = select(_P.c.account, _P.c.currency, func.sum(_P.c.amount_minor)).group_by(
            _P.c.account, _P.c.currency
        )
        return {(str(a), str(c)): int(s) for a, c, s in self._c.execute(query)}


def write_postings(connection: Connection, entry_id: int, postings: tuple[Posting, ...]) -> None:
    """Insert an entry's postings and apply them to the wallets they touch."""
    connection.execute(
        insert(_P),
        [
            {
                "entry_id": entry_id,
                "account": p.account.value,
                "customer_id": p.customer_id,
                "currency": p.currency,
                "amount_minor": p.amount_minor,
            }
            for p in postings
        ],
    )
    for (customer_id, code), (paid, bonus) in wallet_changes(postings).items():
        apply_to_wallet(connection, customer_id, code, paid, bonus)


def apply_to_wallet(
    connection: Connection, customer_id: int, code: str, paid: int, bonus: int
) -> None:
    """Add ``paid`` and ``bonus`` (either may be negative) to a wallet.

    Credits create the wallet on first use (an upsert); anything that takes value out is a
    plain UPDATE, since a wallet that does not exist holds nothing. Raises
    InsufficientFundsError when a balance would go below zero (the CHECK fails).
    """
    try:
        if paid >= 0 and bonus >= 0:
            connection.execute(_credit(connection, customer_id, code, paid, bonus))
            return
        changed = connection.execute(
            update(_W)
            .where(_W.c.customer_id == customer_id, _W.c.currency == code)
            .values(paid_minor=_W.c.paid_minor + paid, bonus_minor=_W.c.bonus_minor + bonus)
        ).rowcount
    except IntegrityError as exc:
        raise _insufficient(customer_id, code) from exc
    if changed != 1:
        raise _insufficient(customer_id, code)


def _credit(connection: Connection, customer_id: int, code: str, paid: int, bonus: int) -> Any:
    dialect_insert: Any = (
        postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    )
    statement = dialect_insert(_W).values(
        customer_id=customer_id, currency=code, paid_minor=paid, bonus_minor=bonus
    )
    return statement.on_conflict_do_update(
        index_elements=[_W.c.customer_id, _W.c.currency],
        set_={
            "paid_minor": _W.c.paid_minor + statement.excluded.paid_minor,
            "bonus_minor": _W.c.bonus_minor + statement.excluded.bonus_minor,
        },
    )


def _insufficient(customer_id: int, code: str) -> InsufficientFundsError:
    return InsufficientFundsError(
        f"the {code} wallet of customer {customer_id} does not hold enough"
    )
