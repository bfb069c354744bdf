"""The customer's own pages: balances per currency (paid and bonus), the "Use voucher" form,
what a redemption credited, and the history of redemptions.

``POST /portal/redeem`` redeems through the same engine as the API (channel ``portal``,
caller ``customer:<ref>``, so the anti-guessing counters are the customer's, the session's
and the address's) and answers 303 to the redemption's page; a refusal renders the home
page again with the customer's wording and the refusal's HTTP status. The top-up amount
field is there only where the operator turned ``portal_topups`` on
(``vouchers.services.portal``: a customer's typed amount would otherwise be free money).
"""

from __future__ import annotations

from typing import Any

from fastapi import Path, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from vouchers import errors
from vouchers.domain.access import Principal
from vouchers.domain.money import format_minor
from vouchers.domain.redemptions import Channel, Redemption
from vouchers.entrypoints.api.deps import actor_name
from vouchers.entrypoints.api.problems import status_of
from vouchers.entrypoints.api.redemptions import client_address
from vouchers.entrypoints.web.portal.pages import (
    MAX_CODE,
    CustomerForm,
    CustomerPage,
    app_of,
    message_for,
    portal_router,
    render,
)
from vouchers.services import portal
from vouchers.services.redemptions import RedemptionRequest, RedemptionResult

router = portal_router()

MAX_AMOUNT = 40
# Refusals that leave the typed code worth showing again (to correct it, or add a top-up).
KEEP_CODE = (errors.MalformedCodeError, errors.RedemptionRefusedError, errors.ValidationError)


def redemption_view(redemption: Redemption) -> dict[str, Any]:
    """A redemption as the history table and the result page show it."""
    credit = redemption.credit
    code = credit.currency
    return {
        "id": redemption.id,
        "voucher_number": redemption.voucher_number,
        "at": redemption.redeemed_at.strftime("%Y-%m-%d %H:%M UTC"),
        "currency": code,
        "paid": format_minor(credit.paid_minor, code),
        "bonus": format_minor(credit.bonus_minor, code),
        "payment": format_minor(credit.payment_minor, code) if credit.payment_minor else None,
        "total": format_minor(credit.paid_minor + credit.bonus_minor, code),
        "status": str(redemption.status),
    }


def account_context(request: Request, principal: Principal) -> dict[str, Any]:
    """The customer, balances per currency and recent redemptions, ready to show."""
    assert principal.customer_id is not None
    account = portal.portal_account(principal.customer_id, uow=app_of(request).uow())
    return {
        "account": account.customer,
        "balances": [
            {
                "currency": w.currency,
                "paid": format_minor(w.paid_minor, w.currency),
                "bonus": format_minor(w.bonus_minor, w.currency),
                "total": format_minor(w.total_minor, w.currency),
            }
            for w in account.wallets
        ],
        "history": [redemption_view(r) for r in account.redemptions],
        "topups": account.topups,
    }


def redeem_for(request: Request, principal: Principal, code: str, amount: str) -> RedemptionResult:
    """Redeem ``code`` into the principal's account (with a top-up ``amount`` only where
    the operator lets customers declare top-ups)."""
    app = app_of(request)
    actor = actor_name(principal)
    return portal.redeem_in_portal(
        RedemptionRequest(
            code=code,
            customer=principal.name,
            amount=amount or None,
            channel=Channel.PORTAL,
            client_address=client_address(request),
            caller=actor,
        ),
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor=actor,
        codebook=app.codebook,
    )


def redeemed(result: RedemptionResult) -> Response:
    """303 to the page of what the redemption credited."""
    return RedirectResponse(f"/portal/redemptions/{result.redemption_id}", status_code=303)


@router.get("/portal")
def home(request: Request, principal: CustomerPage) -> Response:
    """Balances, the "Use voucher" form and the history of redemptions."""
    return render(request, "home.html", account_context(request, principal))


@router.post("/portal/redeem")
async def use_voucher(request: Request, principal: CustomerForm) -> Response:
    """Redeem a typed code; 303 to its result, or the home page with the refusal."""
    form = await request.form()
    code = str(form.get("code", ""))[:MAX_CODE].strip()
    amount = str(form.get("amount", ""))[:MAX_AMOUNT].strip()
    return await run_in_threadpool(_use_voucher, request, principal, code, amount)


def _use_voucher(request: Request, principal: Principal, code: str, amount: str) -> Response:
    try:
        if not code:
            raise errors.ValidationError("type the code printed on your voucher")
        result = redeem_for(request, principal, code, amount)
    except errors.VouchersError as exc:
        context = account_context(request, principal)
        context |= {
            "error": message_for(exc, app_of(request).clock()),
            "code": code if isinstance(exc, KEEP_CODE) else "",
            "amount": amount,
        }
        return render(request, "home.html", context, status=status_of(exc))
    return redeemed(result)


@router.get("/portal/redemptions/{redemption_id}")
def redemption_page(
    request: Request,
    principal: CustomerPage,
    redemption_id: int = Path(ge=1, le=2**63 - 1),
) -> Response:
    """What one of the customer's redemptions credited, and the balance now."""
    assert principal.customer_id is not None
    app = app_of(request)
    redemption = portal.own_redemption(principal.customer_id, redemption_id, uow=app.uow())
    context = account_context(request, principal)
    context["redemption"] = redemption_view(redemption)
    context["balance"] = next(
        (b for b in context["balances"] if b["currency"] == redemption.credit.currency), None
    )
    return render(request, "redeemed.html", context)
