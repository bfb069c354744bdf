"""Voucher types: the list, one type with its code format's strength and its lots, and
the form that creates a type (errors shown next to their fields).

A code format under the 64-bit floor (the CRM document's 7-digit secret numbers) is
refused until the operator ticks "accept a weak format", with the risk spelled out.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from vouchers.domain.access import Permission, authorize
from vouchers.domain.codes import (
    RISK_GUESSES,
    RISK_LIVE_CODES,
    CheckMethod,
    CodeFormat,
    alphabet_from,
)
from vouchers.domain.money import Currency, currency
from vouchers.domain.voucher_types import (
    BonusRule,
    PerCustomer,
    RedemptionRules,
    ValueOption,
    VoucherKind,
    VoucherType,
    normalise_alternative_code,
    parse_multiplier,
)
from vouchers.entrypoints.api.schemas_catalogue import amount_minor, parse_ref
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import (
    FormErrors,
    checked,
    optional,
    text,
    whole_number,
)
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    render,
    see_other,
)
from vouchers.errors import ConflictError, ValidationError, WeakCodeFormatError
from vouchers.services import lots as lot_service
from vouchers.services import settings as settings_service
from vouchers.services import voucher_types as service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

KEYWORDS = {
    "alternative_code": ("alternative code",),
    "name": ("needs a name",),
    "plan": ("plan",),
    "value": ("fixed-value", "value above zero", "variable-value", "values cannot"),
    "validity_days": ("validity",),
    "allow_weak": ("entropy",),
    "check": ("luhn", "damm", "check method"),
    "prefix": ("prefix",),
    "group_size": ("group",),
    "length": ("secret characters",),
    "symbols": ("alphabet", "symbol"),
}
CHECKS = (
    ("", "automatic (Luhn for digits, Luhn mod N or Damm otherwise)"),
    (CheckMethod.LUHN.value, "Luhn"),
    (CheckMethod.LUHN_MOD_N.value, "Luhn mod N"),
    (CheckMethod.DAMM.value, "Damm"),
    (CheckMethod.NONE.value, "none"),
)


def _default_currency(app: Any) -> str:
    return settings_service.show_settings(uow=app.uow())["default_currency"] or "EUR"


ALPHABETS = (("crockford", "Crockford base32"), ("digits", "digits"), ("custom", "custom"))
DEFAULTS = {
    "length": "16",
    "group_size": "4",
    "multiplier": "1",
    "validity_days": "365",
    "default_payment_type": "voucher",
}


def _form_context(app: Any, errors: FormErrors | None = None, values: Any = None) -> dict[str, Any]:
    return {
        "errors": {} if errors is None else errors.messages,
        "values": values or {**DEFAULTS, "currency": _default_currency(app)},
        "kinds": [(k.value, k.value.replace("_", " ")) for k in VoucherKind],
        "value_options": [(v.value, v.value) for v in ValueOption],
        "per_customer": [(p.value, p.value.replace("_", " ")) for p in PerCustomer],
        "alphabets": ALPHABETS,
        "checks": CHECKS,
    }


def _words(form: FormData, name: str) -> tuple[str, ...]:
    raw = text(form, name, max_length=2000)
    return tuple(w.strip().upper() for w in raw.replace("\n", ",").split(",") if w.strip())


def voucher_type_from(form: FormData, errors: FormErrors) -> VoucherType | None:
    """The type the form describes, or None with the reasons in ``errors``."""
    name = errors.parse("name", lambda: text(form, "name"))
    code = errors.parse(
        "alternative_code",
        lambda: normalise_alternative_code(text(form, "alternative_code", max_length=32)),
    )
    cur = errors.parse("currency", lambda: currency(text(form, "currency", max_length=3)))
    kind = errors.parse("kind", lambda: _choice(VoucherKind, form, "kind"))
    option = errors.parse("value_option", lambda: _choice(ValueOption, form, "value_option"))
    per_customer = errors.parse("per_customer", lambda: _choice(PerCustomer, form, "per_customer"))
    multiplier = errors.parse(
        "multiplier", lambda: parse_multiplier(text(form, "multiplier") or "1")
    )
    amounts = {
        field: None if cur is None else errors.parse(field, partial(_amount, form, field, cur))
        for field in ("value", "extra_value", "minimum_activation", "addition")
    }
    code_format = errors.parse("length", lambda: _code_format(form, errors))
    validity = errors.parse(
        "validity_days", lambda: whole_number(form, "validity_days", high=36_500, required=False)
    )
    plan = errors.parse("plan", lambda: optional(form, "plan", max_length=32))
    notes = errors.parse("notes", lambda: text(form, "notes", max_length=2000, multiline=True))
    payment = errors.parse(
        "default_payment_type", lambda: text(form, "default_payment_type", max_length=64)
    )
    products = errors.parse("products", lambda: _words(form, "products"))
    product_types = errors.parse("product_types", lambda: _words(form, "product_types"))
    if errors:
        return None
    if cur is None or kind is None or option is None or code is None:
        return None
    try:
        bonus = BonusRule(
            minimum_activation_minor=amounts["minimum_activation"] or 0,
            multiplier=multiplier or parse_multiplier("1"),
            addition_minor=amounts["addition"] or 0,
        )
        return VoucherType(
            alternative_code=code,
            name=name or "",
            currency=cur,
            kind=kind,
            value_option=option,
            value_minor=amounts["value"],
            extra_value_minor=amounts["extra_value"] or 0,
            bonus=bonus,
            products=products or (),
            product_types=product_types or (),
            code_format=code_format or CodeFormat(),
            default_payment_type=payment or "voucher",
            validity_days=validity,
            auto_activate=checked(form, "auto_activate"),
            notes=notes or "",
            plan_code=None if plan is None else plan.upper(),
            rules=RedemptionRules(
                per_customer or PerCustomer.UNLIMITED,
                checked(form, "first_topup_only"),
                checked(form, "kyc_required"),
            ),
        )
    except ValidationError as exc:
        errors.attach(exc)
        return None


def _choice(enum: Any, form: FormData, name: str) -> Any:
    value = text(form, name, max_length=32)
    try:
        return enum(value)
    except ValueError:
        raise ValidationError(f"choose one of {', '.join(m.value for m in enum)}") from None


def _amount(form: FormData, name: str, cur: Currency) -> int | None:
    value = text(form, name, max_length=40)
    return amount_minor(value, cur) if value else None


def _code_format(form: FormData, errors: FormErrors) -> CodeFormat | None:
    alphabet_name = text(form, "alphabet", max_length=16) or "crockford"
    symbols = optional(form, "symbols", max_length=64) if alphabet_name == "custom" else None
    alphabet = errors.parse("symbols", lambda: alphabet_from(alphabet_name, symbols))
    length = errors.parse("length", lambda: whole_number(form, "length", low=4, high=64))
    group = errors.parse(
        "group_size", lambda: whole_number(form, "group_size", low=0, high=16, required=False)
    )
    check_text = text(form, "check", max_length=16)
    if alphabet is None or length is None:
        return None
    try:
        return CodeFormat(
            alphabet=alphabet,
            length=length,
            prefix=text(form, "prefix", max_length=16),
            group_size=4 if group is None else group,
            check=CheckMethod(check_text) if check_text in {c.value for c in CheckMethod} else None,
            allow_weak=checked(form, "allow_weak"),
        )
    except WeakCodeFormatError as exc:
        errors.add(
            "allow_weak",
            exc.message.replace(
                "pass allow_weak to accept", "tick “accept a weak format” to go on"
            ),
        )
    except ValidationError as exc:
        errors.attach(exc)
    return None


@router.get("/types")
def list_types(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """Every voucher type."""
    authorize(principal, Permission.TYPES_READ)
    return render(request, "types/list.html", {"types": service.list_voucher_types(uow=app.uow())})


@router.get("/types/new")
def new_type(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """The form for a new voucher type."""
    authorize(principal, Permission.TYPES_WRITE)
    return render(request, "types/new.html", _form_context(app))


@router.post("/types")
def create_type(request: Request, app: AppDep, principal: FormPrincipal, form: FormDep) -> Response:
    """Create a type, or show the form again with what is wrong."""
    authorize(principal, Permission.TYPES_WRITE)
    errors = FormErrors(KEYWORDS)
    draft = voucher_type_from(form, errors)
    if draft is not None:
        try:
            saved = service.create_voucher_type(
                draft, uow=app.uow(), clock=app.clock, actor=actor(principal)
            )
        except (ValidationError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return see_other(
                f"{PREFIX}/types/{saved.alternative_code}",
                f"voucher type {saved.alternative_code} created",
            )
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return render(request, "types/new.html", _form_context(app, errors, values), status=422)


@router.get("/types/{ref}")
def show_type(request: Request, ref: str, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """One type: what it says, how strong its codes are, and its lots."""
    authorize(principal, Permission.TYPES_READ)
    voucher_type = service.get_voucher_type(parse_ref(ref[:32]), uow=app.uow())
    fmt = voucher_type.code_format
    lots = (
        lot_service.list_lots(uow=app.uow(), type_ref=voucher_type.id or 0)
        if Permission.LOTS_READ in principal.permissions
        else []
    )
    return render(
        request,
        "types/show.html",
        {
            "vt": voucher_type,
            "fmt": fmt,
            "example": fmt.mask("0000"),
            "risk": fmt.risk(RISK_LIVE_CODES, RISK_GUESSES),
            "risk_guesses": RISK_GUESSES,
            "risk_live": RISK_LIVE_CODES,
            "lots": lots,
        },
    )
