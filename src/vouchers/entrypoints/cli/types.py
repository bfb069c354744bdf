"""``vouchers types``: create, list and show voucher types."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.domain.codes import CheckMethod, CodeFormat, alphabet_from
from vouchers.domain.money import Money, currency
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
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, parse_ref, state
from vouchers.services import settings as settings_service
from vouchers.services import voucher_types as service

app = typer.Typer(
    help="Voucher types: the templates vouchers are generated from.", no_args_is_help=True
)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Premium services'.")],
    alternative_code: Annotated[str, typer.Option(help="Unique short code, e.g. PREM.")],
    currency_code: Annotated[
        str | None,
        typer.Option("--currency", help="ISO 4217 code; default the default_currency setting."),
    ] = None,
    value: Annotated[str | None, typer.Option(help="Fixed value, e.g. 50.00.")] = None,
    extra_value: Annotated[str | None, typer.Option(help="Extra (free) value.")] = None,
    kind: Annotated[
        VoucherKind, typer.Option(help="What redeeming does.")
    ] = VoucherKind.STORED_VALUE,
    value_option: Annotated[
        ValueOption, typer.Option(help="fixed or variable.")
    ] = ValueOption.FIXED,
    minimum_activation: Annotated[
        str | None, typer.Option(help="Least paid top-up for a bonus.")
    ] = None,
    multiplier: Annotated[str, typer.Option(help="Bonus multiplier; 1.1 gives 10%.")] = "1",
    addition: Annotated[str | None, typer.Option(help="Bonus added on redemption.")] = None,
    products: Annotated[str, typer.Option(help="Supported products, comma-separated.")] = "",
    product_types: Annotated[
        str, typer.Option(help="Supported product types, comma-separated.")
    ] = "",
    payment_type: Annotated[str, typer.Option(help="Payment type recorded on use.")] = "voucher",
    validity_days: Annotated[int, typer.Option(help="Default validity of lots, in days.")] = 365,
    auto_activate: Annotated[
        bool, typer.Option(help="Activate codes as they are generated.")
    ] = False,
    plan: Annotated[str | None, typer.Option(help="Internet plan of an access type.")] = None,
    notes: Annotated[str, typer.Option(help="Free text.")] = "",
    per_customer: Annotated[
        PerCustomer, typer.Option(help="How often one customer may redeem this type.")
    ] = PerCustomer.UNLIMITED,
    first_topup_only: Annotated[
        bool, typer.Option(help="Only for a customer's first top-up.")
    ] = False,
    kyc_required: Annotated[bool, typer.Option(help="Only KYC-verified customers.")] = False,
    alphabet: Annotated[str, typer.Option(help="digits, crockford or custom.")] = "crockford",
    symbols: Annotated[str | None, typer.Option(help="The symbols of a custom alphabet.")] = None,
    length: Annotated[int, typer.Option(help="Secret characters per code.")] = 16,
    code_prefix: Annotated[str, typer.Option(help="Non-secret prefix of every code.")] = "",
    group: Annotated[int, typer.Option(help="Display group size; 0 for none.")] = 4,
    check: Annotated[CheckMethod | None, typer.Option(help="Check character method.")] = None,
    allow_weak: Annotated[bool, typer.Option(help="Accept a format under 64 bits.")] = False,
    as_json: Json = False,
) -> None:
    """Create a voucher type."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        if currency_code is None:
            currency_code = settings_service.show_settings(uow=app_.uow())["default_currency"]
        cur = currency(currency_code or "")

        def minor(text: str | None) -> int | None:
            return None if text is None else Money.parse(text, cur).minor

        voucher_type = VoucherType(
            alternative_code=normalise_alternative_code(alternative_code),
            name=name,
            currency=cur,
            kind=kind,
            value_option=value_option,
            value_minor=minor(value),
            extra_value_minor=minor(extra_value) or 0,
            bonus=BonusRule(
                minimum_activation_minor=minor(minimum_activation) or 0,
                multiplier=parse_multiplier(multiplier),
                addition_minor=minor(addition) or 0,
            ),
            products=_split(products),
            product_types=_split(product_types),
            code_format=CodeFormat(
                alphabet=alphabet_from(alphabet, symbols),
                length=length,
                prefix=code_prefix,
                group_size=group,
                check=check,
                allow_weak=allow_weak,
            ),
            default_payment_type=payment_type,
            validity_days=validity_days,
            auto_activate=auto_activate,
            notes=notes,
            plan_code=None if plan is None else plan.strip().upper(),
            rules=RedemptionRules(per_customer, first_topup_only, kyc_required),
        )
        saved = service.create_voucher_type(
            voucher_type, uow=app_.uow(), clock=app_.clock, actor=cli.settings.actor
        )
    data = render.voucher_type(saved)
    emit(data, as_json=as_json, human=lambda: _print_type(data))


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """List voucher types."""
    with handled(as_json=as_json):
        found = service.list_voucher_types(uow=state(ctx).app().uow())
    data = [render.voucher_type(vt) for vt in found]

    def human() -> None:
        table = Table("code", "name", "kind", "value", "format", "bits")
        for row in data:
            fmt = row["code_format"]
            table.add_row(
                row["alternative_code"],
                row["name"],
                row["kind"],
                row["value"] or "variable",
                fmt["example"],
                str(fmt["entropy_bits"]),
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Alternative code or id.")],
    as_json: Json = False,
) -> None:
    """Show one voucher type."""
    with handled(as_json=as_json):
        found = service.get_voucher_type(parse_ref(ref), uow=state(ctx).app().uow())
    data = render.voucher_type(found)
    emit(data, as_json=as_json, human=lambda: _print_type(data))


@app.command("update")
def update(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Alternative code or id.")],
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    notes: Annotated[str | None, typer.Option(help="New notes.")] = None,
    products: Annotated[
        str | None, typer.Option(help="Supported products, comma-separated.")
    ] = None,
    product_types: Annotated[
        str | None, typer.Option(help="Supported product types, comma-separated.")
    ] = None,
    payment_type: Annotated[str | None, typer.Option(help="Payment type recorded on use.")] = None,
    validity_days: Annotated[
        int | None, typer.Option(help="Default validity of new lots, in days.")
    ] = None,
    per_customer: Annotated[
        PerCustomer | None, typer.Option(help="How often one customer may redeem this type.")
    ] = None,
    first_topup_only: Annotated[
        bool | None, typer.Option(help="Only for a customer's first top-up.")
    ] = None,
    kyc_required: Annotated[bool | None, typer.Option(help="Only KYC-verified customers.")] = None,
    as_json: Json = False,
) -> None:
    """Change what a type says for lots still to come; issued vouchers keep what they copied.

    Redemption rules apply from now on, to vouchers already issued too.
    """
    given: dict[str, object] = {
        "name": name,
        "notes": notes,
        "products": None if products is None else _split(products),
        "product_types": None if product_types is None else _split(product_types),
        "default_payment_type": payment_type,
        "validity_days": validity_days,
    }
    with handled(as_json=as_json):
        changes = {key: value for key, value in given.items() if value is not None}
        if (per_customer, first_topup_only, kyc_required) != (None, None, None):
            current = service.get_voucher_type(parse_ref(ref), uow=state(ctx).app().uow()).rules
            changes["rules"] = RedemptionRules(
                per_customer=current.per_customer if per_customer is None else per_customer,
                first_topup_only=current.first_topup_only
                if first_topup_only is None
                else first_topup_only,
                kyc_required=current.kyc_required if kyc_required is None else kyc_required,
            )
        updated = service.update_voucher_type(parse_ref(ref), changes, uow=state(ctx).app().uow())
    data = render.voucher_type(updated)
    emit(data, as_json=as_json, human=lambda: _print_type(data))


def _print_type(data: dict[str, object]) -> None:
    fmt = data["code_format"]
    assert isinstance(fmt, dict)
    console.print(
        f"[bold]{data['alternative_code']}[/] {data['name']} ({data['kind']}, "
        f"{data['value'] or 'variable value ' + str(data['currency'])})"
    )
    console.print(
        f"codes like {fmt['example']}: {fmt['entropy_bits']} bits of entropy; "
        f"{fmt['risk']['guesses']:,} guesses against {fmt['risk']['live_codes']:,} live codes "
        f"hit one with probability {fmt['risk']['probability']:.3g}"
    )


def _split(text: str) -> tuple[str, ...]:
    return tuple(item.strip().upper() for item in text.split(",") if item.strip())
