"""Voucher types: list, create, show and update the templates vouchers are generated from.

The schemas sit with the routes: ``VoucherTypeCreate`` builds the domain type (amounts as
text in the type's currency), ``VoucherTypePublic`` spells it like the CLI's ``--json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, StrictBool, StrictInt

from vouchers.domain.access import Permission, Principal
from vouchers.domain.codes import (
    RISK_GUESSES,
    RISK_LIVE_CODES,
    CheckMethod,
    CodeFormat,
    alphabet_from,
)
from vouchers.domain.money import currency
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
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import (
    PRINTABLE,
    Amount,
    Code,
    Days,
    Input,
    Name,
    Notes,
    Word,
    amount_minor,
    money,
    parse_ref,
    upper_all,
)
from vouchers.services import settings as settings_service
from vouchers.services import voucher_types as service

# -- voucher types ------------------------------------------------------------------------


class BonusIn(Input):
    minimum_activation: Amount | None = None
    multiplier: Annotated[str, Field(max_length=16)] = "1"
    addition: Amount | None = None


class RulesIn(Input):
    per_customer: PerCustomer = PerCustomer.UNLIMITED
    first_topup_only: StrictBool = False
    kyc_required: StrictBool = False


class CodeFormatIn(Input):
    alphabet: Literal["digits", "crockford", "custom"] = "crockford"
    symbols: Annotated[str, Field(min_length=2, max_length=64)] | None = None
    length: Annotated[StrictInt, Field(ge=1, le=64)] = 16
    prefix: Annotated[str, Field(max_length=16)] = ""
    group_size: Annotated[StrictInt, Field(ge=0, le=64)] = 4
    check: CheckMethod | None = None
    allow_weak: StrictBool = False

    def to_domain(self) -> CodeFormat:
        return CodeFormat(
            alphabet=alphabet_from(self.alphabet, self.symbols),
            length=self.length,
            prefix=self.prefix,
            group_size=self.group_size,
            check=self.check,
            allow_weak=self.allow_weak,
        )


class VoucherTypeCreate(Input):
    """A new voucher type; amounts are in ``currency`` (default: the default_currency setting)."""

    name: Name
    alternative_code: Code
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    kind: VoucherKind = VoucherKind.STORED_VALUE
    value_option: ValueOption = ValueOption.FIXED
    value: Amount | None = None
    extra_value: Amount | None = None
    bonus: BonusIn = Field(default_factory=BonusIn)
    products: Annotated[list[Word], Field(max_length=100)] = Field(default_factory=list)
    product_types: Annotated[list[Word], Field(max_length=100)] = Field(default_factory=list)
    code_format: CodeFormatIn = Field(default_factory=CodeFormatIn)
    default_payment_type: Word = "voucher"
    validity_days: Days | None = 365
    auto_activate: StrictBool = False
    plan: Code | None = None
    notes: Notes = ""
    rules: RulesIn = Field(default_factory=RulesIn)

    def to_domain(self, default_currency: str) -> VoucherType:
        """The domain type; raises ValidationError (and its kinds) for what it refuses."""
        cur = currency(self.currency or default_currency)

        def minor(text: str | None) -> int | None:
            return amount_minor(text, cur)

        return VoucherType(
            alternative_code=normalise_alternative_code(self.alternative_code),
            name=self.name,
            currency=cur,
            kind=self.kind,
            value_option=self.value_option,
            value_minor=minor(self.value),
            extra_value_minor=minor(self.extra_value) or 0,
            bonus=BonusRule(
                minimum_activation_minor=minor(self.bonus.minimum_activation) or 0,
                multiplier=parse_multiplier(self.bonus.multiplier),
                addition_minor=minor(self.bonus.addition) or 0,
            ),
            products=upper_all(self.products),
            product_types=upper_all(self.product_types),
            code_format=self.code_format.to_domain(),
            default_payment_type=self.default_payment_type,
            validity_days=self.validity_days,
            auto_activate=self.auto_activate,
            notes=self.notes,
            plan_code=None if self.plan is None else self.plan.strip().upper(),
            rules=RedemptionRules(
                self.rules.per_customer, self.rules.first_topup_only, self.rules.kyc_required
            ),
        )


class VoucherTypeUpdate(Input):
    """What may change on a type (fields left out stay as they are)."""

    name: Name | None = None
    notes: Notes | None = None
    products: Annotated[list[Word], Field(max_length=100)] | None = None
    product_types: Annotated[list[Word], Field(max_length=100)] | None = None
    default_payment_type: Word | None = None
    validity_days: Days | None = None
    rules: RulesIn | None = None

    def changes(self) -> dict[str, Any]:
        """The service's ``changes`` mapping: only what the client sent."""
        given = self.model_dump(exclude_unset=True, exclude={"rules"})
        for key in ("products", "product_types"):
            if given.get(key) is not None:
                given[key] = upper_all(given[key])
        if self.rules is not None:
            given["rules"] = RedemptionRules(
                self.rules.per_customer, self.rules.first_topup_only, self.rules.kyc_required
            )
        return {key: value for key, value in given.items() if value is not None}


class CodeFormatPublic(BaseModel):
    alphabet: str
    symbols: str
    length: int
    prefix: str
    group_size: int
    check: str
    allow_weak: bool
    entropy_bits: float
    example: str
    risk: dict[str, float]

    @classmethod
    def of(cls, fmt: CodeFormat) -> CodeFormatPublic:
        return cls(
            alphabet=fmt.alphabet.name,
            symbols=fmt.alphabet.symbols,
            length=fmt.length,
            prefix=fmt.prefix,
            group_size=fmt.group_size,
            check=str(fmt.check),
            allow_weak=fmt.allow_weak,
            entropy_bits=round(fmt.entropy_bits, 1),
            example=fmt.mask("0000"),
            risk={
                "guesses": RISK_GUESSES,
                "live_codes": RISK_LIVE_CODES,
                "probability": fmt.risk(RISK_LIVE_CODES, RISK_GUESSES),
            },
        )


class BonusPublic(BaseModel):
    minimum_activation: str | None
    multiplier: str
    addition: str | None


class RulesPublic(BaseModel):
    per_customer: str
    first_topup_only: bool
    kyc_required: bool


class VoucherTypePublic(BaseModel):
    id: int | None
    alternative_code: str
    name: str
    kind: str
    currency: str
    value_option: str
    value: str | None
    extra_value: str | None
    bonus: BonusPublic
    products: list[str]
    product_types: list[str]
    code_format: CodeFormatPublic
    default_payment_type: str
    plan: str | None
    validity_days: int | None
    auto_activate: bool
    rules: RulesPublic
    notes: str
    created_at: datetime | None
    created_by: str | None

    @classmethod
    def of(cls, vt: VoucherType) -> VoucherTypePublic:
        cur = vt.currency.code
        return cls(
            id=vt.id,
            alternative_code=vt.alternative_code,
            name=vt.name,
            kind=str(vt.kind),
            currency=cur,
            value_option=str(vt.value_option),
            value=money(vt.value_minor, cur),
            extra_value=money(vt.extra_value_minor, cur),
            bonus=BonusPublic(
                minimum_activation=money(vt.bonus.minimum_activation_minor, cur),
                multiplier=str(vt.bonus.multiplier),
                addition=money(vt.bonus.addition_minor, cur),
            ),
            products=list(vt.products),
            product_types=list(vt.product_types),
            code_format=CodeFormatPublic.of(vt.code_format),
            default_payment_type=vt.default_payment_type,
            plan=vt.plan_code,
            validity_days=vt.validity_days,
            auto_activate=vt.auto_activate,
            rules=RulesPublic(
                per_customer=str(vt.rules.per_customer),
                first_topup_only=vt.rules.first_topup_only,
                kyc_required=vt.rules.kyc_required,
            ),
            notes=vt.notes,
            created_at=vt.created_at,
            created_by=vt.created_by,
        )


# -- routes ---------------------------------------------------------------------------------

router = APIRouter(prefix="/voucher-types", tags=["voucher types"])

Reader = Annotated[Principal, Depends(require(Permission.TYPES_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TYPES_WRITE))]
TypeRef = Annotated[
    str, Path(min_length=1, max_length=32, pattern=PRINTABLE, description="Alternative code or id.")
]


@router.get("")
def list_voucher_types(app: AppDep, _: Reader) -> list[VoucherTypePublic]:
    """Every voucher type, by alternative code."""
    return [VoucherTypePublic.of(vt) for vt in service.list_voucher_types(uow=app.uow())]


@router.post("", status_code=201)
def create_voucher_type(
    body: VoucherTypeCreate, app: AppDep, principal: Writer
) -> VoucherTypePublic:
    """Create a voucher type (409 ``duplicate`` when its alternative code is taken)."""
    default_currency = settings_service.show_settings(uow=app.uow())["default_currency"] or ""
    saved = service.create_voucher_type(
        body.to_domain(default_currency),
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
    )
    return VoucherTypePublic.of(saved)


@router.get("/{ref}")
def get_voucher_type(ref: TypeRef, app: AppDep, _: Reader) -> VoucherTypePublic:
    """One voucher type by alternative code or id."""
    return VoucherTypePublic.of(service.get_voucher_type(parse_ref(ref), uow=app.uow()))


@router.patch("/{ref}")
def update_voucher_type(
    ref: TypeRef, body: VoucherTypeUpdate, app: AppDep, _: Writer
) -> VoucherTypePublic:
    """Change what a type says for lots still to come; issued vouchers keep what they copied.

    Redemption rules apply from now on, to vouchers already issued too.
    """
    updated = service.update_voucher_type(parse_ref(ref), body.changes(), uow=app.uow())
    return VoucherTypePublic.of(updated)
