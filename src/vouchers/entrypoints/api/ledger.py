"""Routes for the ledger: the journal page by page, and the proof that the books agree.

``GET /ledger/entries`` lists journal entries newest first with their postings, a page at
a time (keyset: pass ``next_before`` back as ``before``), optionally only those touching
one customer's wallets. ``GET /ledger/verify`` checks that every entry sums to zero per
currency and every wallet equals its postings; it answers 200 either way, with ``ok``.
Both need ``ledger.read`` (admin, finance, auditor).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.customers import EXTERNAL_REF
from vouchers.domain.money import format_minor
from vouchers.entrypoints.api.deps import AppDep, require
from vouchers.entrypoints.api.schemas_catalogue import MAX_ID
from vouchers.entrypoints.api.wallets import amounts
from vouchers.errors import CustomerNotFoundError
from vouchers.services import ledger as service
from vouchers.services.ledger import LedgerCheck
from vouchers.services.ports import JournalEntry

router = APIRouter(tags=["ledger"])

MAX_PAGE = 500


def entry_public(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": str(entry.kind),
        "at": entry.at.isoformat(),
        "by": entry.by,
        "memo": entry.memo,
        "reference": entry.reference,
        "redemption_id": entry.redemption_id,
        "postings": [
            {
                "account": str(p.account),
                "customer_id": p.customer_id,
                "currency": p.currency,
                **amounts(p.currency, amount=p.amount_minor),
            }
            for p in entry.postings
        ],
    }


def check_public(check: LedgerCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "totals": [
            {"account": account, "currency": code, **amounts(code, balance=total)}
            for (account, code), total in sorted(check.totals.items())
        ],
        "unbalanced_entries": [
            {"entry_id": entry_id, "currency": code, **amounts(code, sum=total)}
            for entry_id, code, total in check.unbalanced_entries
        ],
        "wallet_mismatches": [
            {
                "customer_id": customer_id,
                "currency": code,
                "paid": format_minor(paid, code),
                "paid_from_journal": format_minor(paid_journal, code),
                "bonus": format_minor(bonus, code),
                "bonus_from_journal": format_minor(bonus_journal, code),
            }
            for customer_id, code, paid, paid_journal, bonus, bonus_journal in (
                check.wallet_mismatches
            )
        ],
    }


@router.get("/ledger/entries")
def list_entries(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.LEDGER_READ))],
    customer: Annotated[
        str | None, Query(max_length=200, description="Only this customer's wallets.")
    ] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Journal entries newest first; ``next_before`` is the cursor of the next page."""
    authorize(principal, Permission.LEDGER_READ)
    if customer is not None and not EXTERNAL_REF.match(customer):
        raise CustomerNotFoundError(f"no customer {customer[:70]!r}")
    entries = service.journal(uow=app.uow(), customer=customer, before=before, limit=limit)
    return {
        "items": [entry_public(e) for e in entries],
        "next_before": entries[-1].id if len(entries) == limit else None,
    }


@router.get("/ledger/verify")
def verify(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.LEDGER_READ))],
) -> dict[str, Any]:
    """Whether the books agree, the account totals, and every problem found."""
    authorize(principal, Permission.LEDGER_READ)
    return check_public(service.verify_ledger(uow=app.uow()))
