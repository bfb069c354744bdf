"""Vouchers: search (number, range, lot, type, state, customer, last characters or notes,
and the exact code through its lookup digest), the voucher page with its history, and
the reveal of its code or QR code (finance, with a reason, recorded in the history).

The list is keyset-paginated on the voucher number (``number > after ORDER BY number
LIMIT n``), so any page of a million-voucher installation costs one index walk. Codes are
masked everywhere except right after a reveal. A code searched for is posted, never put
in the address (addresses end up in logs and browser history). Revealed codes and QR
codes are rendered into the answer of the POST itself: they are never stored in a
cookie, an address or a cache (every console answer is ``no-store``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from vouchers.adapters.qr import render_qr
from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.lifecycle import ADDRESSES, Process, addressed_states
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.api.schemas_catalogue import parse_ref
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import (
    FORM,
    FormErrors,
    date,
    query_number,
    schedule,
    text,
)
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
from vouchers.entrypoints.web.console.runs import run_url, start_run
from vouchers.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
    VoucherNotFoundError,
)
from vouchers.services import customers as customer_service
from vouchers.services import definitions as definition_service
from vouchers.services import lots as lot_service
from vouchers.services import voucher_types as type_service
from vouchers.services import vouchers as service
from vouchers.services.processes import Selection
from vouchers.services.qr_codes import QrFormat, voucher_qr
from vouchers.services.runs import criteria_of

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

PAGE = 50
FILTERS = ("lot", "type", "state", "customer", "text", "number_from", "number_to")
SEARCH_KEYWORDS = {
    "lot": ("lot",),
    "type": ("type",),
    "customer": ("customer",),
    "text": ("search text",),
}


@router.get("/vouchers")
def search_vouchers(
    request: Request,
    app: AppDep,
    principal: PagePrincipal,
    number: str | None = None,
    after: str | None = None,
) -> Response:
    """The search form and a page of matching vouchers (masked)."""
    authorize(principal, Permission.VOUCHERS_READ)
    exact = query_number(number)
    if exact is not None:
        return see_other(f"{PREFIX}/vouchers/{exact}")
    params = {name: (request.query_params.get(name) or "").strip()[:100] for name in FILTERS}
    return _search_page(request, app, principal, params, after=query_number(after) or 0)


def _search_page(
    request: Request,
    app: App,
    principal: Principal,
    params: dict[str, str],
    *,
    after: int = 0,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    errors = errors or FormErrors(SEARCH_KEYWORDS)
    state = params.get("state") or None
    states = None
    if state is not None:
        try:
            states = frozenset({VoucherState(state)})
        except ValueError:
            errors.add("state", "choose a state from the list")
    number_from = query_number(params.get("number_from"))
    number_to = query_number(params.get("number_to"))
    found: list[service.VoucherView] = []
    if not errors:
        try:
            found = service.list_vouchers(
                uow=app.uow(),
                clock=app.clock,
                after=after,
                limit=PAGE + 1,
                lot_ref=parse_ref(params["lot"][:32]) if params.get("lot") else None,
                type_ref=parse_ref(params["type"][:32]) if params.get("type") else None,
                states=states,
                number_from=number_from,
                number_to=number_to,
                customer_ref=params.get("customer") or None,
                text=params.get("text") or None,
            )
        except (NotFoundError, ValidationError) as exc:
            errors.attach(exc)
            status = 422
    page = found[:PAGE]
    given = {k: v for k, v in params.items() if v}
    next_query = (
        urlencode({**given, "after": page[-1].voucher.number}) if len(found) > PAGE else None
    )
    return render(
        request,
        "vouchers/search.html",
        {
            "vouchers": page,
            "values": params,
            "errors": errors.messages,
            "states": [s.value for s in VoucherState],
            "next_query": next_query,
            "first_query": urlencode(given) if after else None,
            "searched": bool(given) or after,
        },
        status=status,
    )


@router.post("/vouchers/find")
def find_by_code(
    request: Request, app: AppDep, principal: FormPrincipal, form: FormDep
) -> Response:
    """The voucher a code belongs to (exact match through the lookup digest)."""
    authorize(principal, Permission.VOUCHERS_READ)
    code = text(form, "code", max_length=200)
    errors = FormErrors()
    if not code:
        errors.add("code", "type the code to look for")
    else:
        try:
            view = service.find_voucher_by_code(
                code, uow=app.uow(), vault=app.vault, clock=app.clock
            )
        except VoucherNotFoundError as exc:
            errors.add("code", exc.message)
        else:
            return see_other(f"{PREFIX}/vouchers/{view.voucher.number}")
    params = dict.fromkeys(FILTERS, "")
    return _search_page(request, app, principal, params, errors=errors, status=422)


def _number(number: str) -> int:
    found = query_number(number)
    if found is None:
        raise not_found(f"voucher {number[:20]}")
    return found


def voucher_page(
    request: Request,
    app: App,
    principal: Principal,
    number: int,
    *,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The voucher page (``extra``: a revealed code, a QR code, or form errors)."""
    view = service.get_voucher(number, uow=app.uow(), clock=app.clock)
    voucher = view.voucher
    lot = lot_service.get_lot(voucher.lot_id, uow=app.uow())
    voucher_type = type_service.get_voucher_type(voucher.type_id, uow=app.uow())
    history = (
        service.voucher_history(number, uow=app.uow())
        if allowed(principal, Permission.HISTORY_READ)
        else None
    )
    customers = {}
    if allowed(principal, Permission.CUSTOMERS_READ):
        for customer_id in {voucher.customer_id, voucher.used_by} - {None}:
            assert customer_id is not None
            customers[customer_id] = customer_service.get_customer(customer_id, uow=app.uow())
    definition = definition_service.active_definition(uow=app.uow())
    state = view.state

    def may(process: Process, permission: Permission) -> bool:
        return allowed(principal, permission) and state in addressed_states(process, definition)

    context: dict[str, Any] = {
        "view": view,
        "v": voucher,
        "lot": lot,
        "vt": voucher_type,
        "history": history,
        "customers": customers,
        "can_reveal": allowed(principal, Permission.VOUCHERS_REVEAL)
        and state in ADDRESSES[Process.REVEAL],
        "can_accept": may(Process.ACCEPT, Permission.VOUCHERS_ACCEPT),
        "can_cancel": may(Process.CANCEL, Permission.VOUCHERS_CANCEL),
        "can_modify": may(Process.MODIFY, Permission.VOUCHERS_MODIFY),
        "types": [
            t
            for t in type_service.list_voucher_types(uow=app.uow())
            if t.currency == voucher_type.currency and t.id != voucher_type.id
        ],
        "failed": None,
        "revealed": None,
        "qr": None,
    }
    context.update(extra or {})
    return render(request, "vouchers/show.html", context, status=status)


@router.get("/vouchers/{number}")
def show_voucher(
    request: Request, number: str, app: AppDep, principal: PagePrincipal
) -> HTMLResponse:
    """One voucher: masked code, figures, customer, history and the actions allowed."""
    authorize(principal, Permission.VOUCHERS_READ)
    return voucher_page(request, app, principal, _number(number))


@router.post("/vouchers/{number}/reveal")
def reveal(
    request: Request, number: str, app: AppDep, principal: FormPrincipal, form: FormDep
) -> HTMLResponse:
    """Show the code in clear on this answer only; the reason goes into the history."""
    authorize(principal, Permission.VOUCHERS_REVEAL)
    found = _number(number)
    errors = FormErrors()
    reason = errors.parse("reason", lambda: text(form, "reason", max_length=500))
    if not reason:
        errors.add("reason", "say why the code is revealed")
    else:
        try:
            code = service.reveal_code(
                found,
                reason=reason,
                uow=app.uow(),
                vault=app.vault,
                clock=app.clock,
                actor=actor(principal),
            )
        except (ValidationError, InvalidTransitionError) as exc:
            errors.add("reason", exc.message)
        else:
            lot = lot_service.get_lot(
                service.get_voucher(found, uow=app.uow(), clock=app.clock).voucher.lot_id,
                uow=app.uow(),
            )
            voucher_type = type_service.get_voucher_type(lot.type_id, uow=app.uow())
            shown = lot.code_format(voucher_type).display(code)
            return voucher_page(request, app, principal, found, extra={"revealed": shown})
    return voucher_page(
        request, app, principal, found,
        extra={"failed": "reveal", "errors": errors.messages, "values": {"reason": reason or ""}},
        status=422,
    )  # fmt: skip


@router.post("/vouchers/{number}/qr")
def show_qr(
    request: Request, number: str, app: AppDep, principal: FormPrincipal, form: FormDep
) -> HTMLResponse:
    """The voucher's QR code (it opens the redemption page with the code filled in), as an
    inline SVG; a reveal, recorded with the reason like ``vouchers qr``."""
    authorize(principal, Permission.VOUCHERS_REVEAL)
    found = _number(number)
    errors = FormErrors()
    reason = errors.parse("reason", lambda: text(form, "reason", max_length=500))
    if not reason:
        errors.add("reason", "say why the QR code is shown")
    else:
        try:
            drawn = voucher_qr(
                found,
                fmt=QrFormat.SVG,
                reason=reason,
                uow=app.uow(),
                vault=app.vault,
                clock=app.clock,
                actor=actor(principal),
                render=render_qr,
                redeem_url=str(request.base_url).rstrip("/") + "/redeem",
            )
        except (ValidationError, InvalidTransitionError) as exc:
            errors.add("reason", exc.message)
        else:
            svg = drawn.image.decode()
            svg = svg[svg.index("<svg") :]  # drop the XML declaration: inline, not a file
            return voucher_page(request, app, principal, found, extra={"qr": Markup(svg)})  # noqa: S704
    return voucher_page(
        request, app, principal, found,
        extra={"failed": "reveal", "errors": errors.messages, "values": {"reason": reason or ""}},
        status=422,
    )  # fmt: skip


ONE_VOUCHER = {
    "accept": (Process.ACCEPT, Permission.VOUCHERS_ACCEPT),
    "reject": (Process.REJECT, Permission.VOUCHERS_ACCEPT),
    "cancel": (Process.CANCEL, Permission.VOUCHERS_CANCEL),
    "modify": (Process.MODIFY, Permission.VOUCHERS_MODIFY),
}


@router.post("/vouchers/{number}/{action}")
def voucher_action(
    request: Request,
    number: str,
    action: str,
    app: AppDep,
    principal: FormPrincipal,
    form: FormDep,
    tasks: BackgroundTasks,
) -> Response:
    """Accept, reject, cancel or modify one voucher, as a run (now or scheduled)."""
    if action not in ONE_VOUCHER:
        raise not_found(f"voucher action {action[:20]!r}")
    process, permission = ONE_VOUCHER[action]
    authorize(principal, permission)
    found = _number(number)
    service.get_voucher(found, uow=app.uow(), clock=app.clock)  # 404 for an unknown number
    errors = FormErrors({"expires_at": ("expiration",), "effective_at": ("effective",)})
    scheduled_for = errors.parse("scheduled_for", lambda: schedule(form))
    extra: dict[str, Any] = {}
    if process is Process.MODIFY:
        type_ref = text(form, "type", max_length=32) or None
        effective = errors.parse("effective_at", lambda: date(form, "effective_at"))
        expires = errors.parse("expires_at", lambda: date(form, "expires_at"))
        if type_ref is None and effective is None and expires is None:
            errors.add(FORM, "say what to change: the type or a validity date")
        extra = {
            "type_ref": None if type_ref is None else parse_ref(type_ref),
            "effective_at": effective,
            "expires_at": expires,
        }
    if not errors:
        try:
            run = start_run(
                app,
                process,
                criteria_of(Selection(number=found), **extra),
                principal=principal,
                scheduled_for=scheduled_for,
                tasks=tasks,
            )
        except (ValidationError, InvalidTransitionError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return see_other(run_url(run), f"{process} run #{run.id} requested")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return voucher_page(
        request, app, principal, found,
        extra={"failed": action, "errors": errors.messages, "values": values},
        status=422,
    )  # fmt: skip
