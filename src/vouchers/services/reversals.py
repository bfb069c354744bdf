"""Reversing a redemption: finance undoes it within the reversal window.

The redemption's postings are reversed by a new journal entry (the journal is append-only),
the redemption becomes ``reversed`` and the voucher is activated again; it shows as
expired if its date has passed. The wallet must still hold what was credited.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from vouchers.domain.ledger import EntryKind
from vouchers.domain.redemptions import Redemption, RedemptionStatus
from vouchers.domain.settings import OperatorSettings
from vouchers.errors import ReversalRefusedError, ValidationError
from vouchers.services.ports import Clock, JournalEntry, UnitOfWork


def reverse_redemption(
    redemption_id: int, *, reason: str, uow: UnitOfWork, clock: Clock, actor: str
) -> Redemption:
    """Undo a completed redemption within the reversal window (finance).

    The journal entry is reversed by a new entry; the voucher is activated again (it shows
    as expired if its date has passed). Raises RedemptionNotFoundError,
    ReversalRefusedError (already reversed, or the window closed), InsufficientFundsError
    when the wallet no longer holds what was credited, ValidationError without a reason.
    """
    if not reason.strip():
        raise ValidationError("say why the redemption is reversed (--reason)")
    now = clock()
    with uow:
        redemption = uow.redemptions.get(redemption_id, for_update=True)
        if redemption.status is not RedemptionStatus.COMPLETED:
            raise ReversalRefusedError(f"redemption {redemption_id} is already reversed")
        settings = OperatorSettings.from_stored(uow.settings.all())
        window = timedelta(days=settings.number("reversal_window_days"))
        if now - redemption.redeemed_at > window:
            raise ReversalRefusedError(
                f"redemption {redemption_id} is older than the {window.days}-day reversal window"
            )
        if not uow.redemptions.mark_reversed(redemption_id, at=now, by=actor):
            raise ReversalRefusedError(f"redemption {redemption_id} is already reversed")
        postings = tuple(p.reversed() for p in redemption.credit.postings(redemption.customer_id))
        uow.ledger.post(
            JournalEntry(
                kind=EntryKind.REVERSAL,
                postings=postings,
                at=now,
                by=actor,
                memo=reason.strip(),
                redemption_id=redemption_id,
            )
        )
        uow.vouchers.restore_used(redemption.voucher_number, actor=actor, at=now, note=reason)
        uow.events.add(
            "redemption.reversed",
            {"redemption_id": redemption_id, "voucher_number": redemption.voucher_number},
            at=now,
        )
        uow.commit()
    return dataclasses.replace(
        redemption, status=RedemptionStatus.REVERSED, reversed_at=now, reversed_by=actor
    )
