"""First end-to-end pass through the redemption engine on both databases."""

from __future__ import annotations

from support.redeeming import balance, customer, debit, issue, redeem
from vouchers.bootstrap import App
from vouchers.services import ledger, reversals


def test_two_refill_coupons_of_ten_take_a_balance_from_zero_to_twenty(app: App) -> None:
    codes = issue(app, "REFILL", 2, value_minor=1000, extra_value_minor=0)
    customer(app, "C1")
    assert balance(app) == (0, 0)
    redeem(app, codes[0])
    result = redeem(app, codes[1])
    assert balance(app) == (2000, 0)
    assert result.balance_paid_minor == 2000
    debit(app, "C1", "5.00")
    assert balance(app) == (1500, 0)
    reversals.reverse_redemption(
        result.redemption_id or 0, reason="test", uow=app.uow(), clock=app.clock, actor="fin"
    )
    assert balance(app) == (500, 0)
    check = ledger.verify_ledger(uow=app.uow())
    assert check.ok, check
