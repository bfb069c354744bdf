"""Customers: the list (keyset on the external reference) with a jump to a reference, and
the customer page with balances per currency (paid and bonus), redemptions, the ledger
entries touching the customer's wallets (keyset on the entry id) and, for finance, the
reversal of a redemption with a reason."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.customers import EXTERNAL_REF, Customer
from vouchers.domain.redemptions import RedemptionStatus
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import FormErrors, query_number, text
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    allowed,
    not_found,
    render,
    see_other,
)
from vouchers.errors import (
    ConflictError,
    CustomerNotFoundError,
    InvalidTransitionError,
    ValidationError,
)
from vouchers.services import customers as service
from vouchers.services import ledger as ledger_service
from vouchers.services import redemptions as redemption_service
from vouchers.services import reversals

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

PAGE = 50
LEDGER_PAGE = 20
REDEMPTIONS = 50


def customer_url(customer: Customer) -> str:
    """The customer's page."""
    return f"{PREFIX}/customers/{quote(customer.external_ref, safe='')}"


@router.get("/customers")
def list_customers(
    request: Request, app: AppDep, principal: PagePrincipal, q: str = "", after: str = ""
) -> Response:
    """Customers in reference order from ``after``; ``q`` opens the customer with that
    reference, or lists from where it would be."""
    authorize(principal, Permission.CUSTOMERS_READ)
    q, after = q.strip()[:64], after[:64]
    if q and EXTERNAL_REF.match(q):
        try:
            return see_other(customer_url(service.get_customer(q, uow=app.uow())))
        except CustomerNotFoundError:
            after = q
    found = service.list_customers(uow=app.uow(), after=after, limit=PAGE + 1)
    page = found[:PAGE]
    return render(
        request,
        "customers/list.html",
        {
            "customers": page,
            "q": q,
            "next_after": page[-1].external_ref if len(found) > PAGE else None,
            "first": not after,
        },
    )


def _customer(app: App, ref: str) -> Customer:
    ref = ref.strip()
    if not EXTERNAL_REF.match(ref):
        raise not_found(f"customer {ref[:64]!r}")
    return service.get_customer(ref, uow=app.uow())


def customer_page(
    request: Request,
    app: App,
    principal: Principal,
    customer: Customer,
    *,
    before: int | None = None,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The customer page (``extra``: a reversal form's errors)."""
    context: dict[str, Any] = {"customer": customer, "wallets": None, "redemptions": None,
                               "entries": None, "next_before": None, "failed": None}  # fmt: skip
    if allowed(principal, Permission.WALLETS_READ):
        context["wallets"] = service.customer_wallets(customer.require_id(), uow=app.uow())[1]
    if allowed(principal, Permission.REDEMPTIONS_READ):
        context["redemptions"] = redemption_service.customer_redemptions(
            customer.require_id(), uow=app.uow(), limit=REDEMPTIONS
        )
    if allowed(principal, Permission.LEDGER_READ):
        entries = ledger_service.journal(
            uow=app.uow(), customer=customer.external_ref, before=before, limit=LEDGER_PAGE
        )
        context["entries"] = entries
        context["next_before"] = entries[-1].id if len(entries) == LEDGER_PAGE else None
        context["ledger_paged"] = before is not None
    context["can_reverse"] = allowed(principal, Permission.REDEMPTIONS_REVERSE)
    context["completed"] = RedemptionStatus.COMPLETED
    context.update(extra or {})
    return render(request, "customers/show.html", context, status=status)


@router.get("/customers/{ref}")
def show_customer(
    request: Request, ref: str, app: AppDep, principal: PagePrincipal, before: str | None = None
) -> HTMLResponse:
    """One customer: details, balances, redemptions and ledger entries."""
    authorize(principal, Permission.CUSTOMERS_READ)
    customer = _customer(app, ref)
    return customer_page(request, app, principal, customer, before=query_number(before))


@router.post("/redemptions/{redemption_id}/reversal")
def reverse_redemption(
    request: Request, redemption_id: str, app: AppDep, principal: FormPrincipal, form: FormDep
) -> Response:
    """Reverse a redemption (finance): the credit is taken back, the voucher activated
    again; the reason is recorded."""
    authorize(principal, Permission.REDEMPTIONS_REVERSE)
    number = query_number(redemption_id)
    if number is None:
        raise not_found(f"redemption {redemption_id[:20]}")
    redemption = redemption_service.get_redemption(number, uow=app.uow())
    customer = service.get_customer(redemption.customer_id, uow=app.uow())
    errors = FormErrors()
    reason = errors.parse("reason", lambda: text(form, "reason", max_length=500))
    if not reason:
        errors.add("reason", "say why the redemption is reversed")
    else:
        try:
            reversals.reverse_redemption(
                number, reason=reason, uow=app.uow(), clock=app.clock, actor=actor(principal)
            )
        except (ValidationError, InvalidTransitionError, ConflictError) as exc:
            errors.add("reason", exc.message)
        else:
            return see_other(customer_url(customer), f"redemption {number} reversed")
    return customer_page(
        request, app, principal, customer,
        extra={"failed": number, "errors": errors.messages, "values": {"reason": reason or ""}},
        status=422,
    )  # fmt: skip
