"""Ledger use cases: read the journal, and prove it agrees with itself and the wallets."""

from __future__ import annotations

from dataclasses import dataclass, field

from vouchers.services.ports import JournalEntry, UnitOfWork


@dataclass(frozen=True)
class LedgerCheck:
    """The outcome of ``verify_ledger``: empty lists mean the books agree."""

    unbalanced_entries: list[tuple[int, str, int]] = field(default_factory=list)
    wallet_mismatches: list[tuple[int, str, int, int, int, int]] = field(default_factory=list)
    totals: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unbalanced_entries and not self.wallet_mismatches


def verify_ledger(*, uow: UnitOfWork) -> LedgerCheck:
    """Check that every entry sums to zero per currency and every wallet equals its postings."""
    with uow:
        return LedgerCheck(
            unbalanced_entries=uow.ledger.unbalanced_entries(),
            wallet_mismatches=uow.ledger.wallet_mismatches(),
            totals=uow.ledger.totals(),
        )


def journal(
    *,
    uow: UnitOfWork,
    customer: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[JournalEntry]:
    """Journal entries newest first, optionally only those touching one customer's wallets."""
    with uow:
        customer_id = None if customer is None else uow.customers.get(customer).require_id()
        return uow.ledger.entries(customer_id=customer_id, before=before, limit=limit)
