"""Redemption from the command line: ``vouchers redeem`` and ``vouchers validate`` (the same
checks, nothing moves), ``vouchers reverse`` (finance) and ``vouchers redemptions show``,
and ``vouchers attempts unlock`` to lift an anti-guessing lock-out.

Staff use the CLI, so refusals name the exact reason (used, expired, unknown, …) with exit
code 9; a lock-out exits 10 and says when to retry. The acting user is both the actor and
the caller (``RedemptionRequest.caller``) that anti-guessing counters and idempotency keys
belong to.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vouchers.domain.attempts import Scope
from vouchers.domain.redemptions import Channel
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.errors import ValidationError
from vouchers.services import attempts, reversals
from vouchers.services import redemptions as service
from vouchers.services.redemptions import RedemptionRequest

redemptions_app = typer.Typer(help="Redemptions: uses of vouchers.", no_args_is_help=True)
attempts_app = typer.Typer(help="Anti-guessing: failed codes and lock-outs.", no_args_is_help=True)

Code = Annotated[str, typer.Argument(help="The voucher code as typed (spaces, dashes allowed).")]
Customer = Annotated[
    str, typer.Option("--customer", help="External reference of the redeeming customer.")
]
Amount = Annotated[
    str | None, typer.Option(help="Paid top-up that comes with a bonus voucher, e.g. 100.00.")
]
CurrencyCode = Annotated[
    str | None,
    typer.Option("--currency", help="Currency of the amount; the voucher's if left out."),
]
PaymentRef = Annotated[
    str | None, typer.Option("--payment-ref", help="The host platform's payment reference.")
]
Product = Annotated[
    str | None, typer.Option(help="Pay toward a purchase of this product instead of crediting.")
]
PurchaseRef = Annotated[
    str | None, typer.Option("--purchase-ref", help="The purchase a product payment settles.")
]
CreateCustomer = Annotated[
    bool, typer.Option("--create-customer", help="Create the customer if it does not exist.")
]
IdempotencyKey = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Run again with the same key: the first answer."),
]
ChannelOption = Annotated[Channel, typer.Option(help="Where the redemption comes from.")]


def register(app: typer.Typer) -> None:
    """Add ``redeem``, ``validate``, ``reverse``, ``redemptions`` and ``attempts``."""
    app.command("redeem")(redeem)
    app.command("validate")(validate)
    app.command("reverse")(reverse)
    redemptions_app.command("show")(show)
    attempts_app.command("unlock")(unlock)
    app.add_typer(redemptions_app, name="redemptions")
    app.add_typer(attempts_app, name="attempts")


def redeem(
    ctx: typer.Context,
    code: Code,
    customer: Customer,
    amount: Amount = None,
    currency_code: CurrencyCode = None,
    payment_ref: PaymentRef = None,
    product: Product = None,
    purchase_ref: PurchaseRef = None,
    create_customer: CreateCustomer = False,
    idempotency_key: IdempotencyKey = None,
    channel: ChannelOption = Channel.CLI,
    as_json: Json = False,
) -> None:
    """Redeem a code for a customer: print what was credited and the balances after."""
    request = RedemptionRequest(
        code=code,
        customer=customer,
        amount=amount,
        currency=currency_code,
        payment_reference=payment_ref,
        product=product,
        purchase_reference=purchase_ref,
        channel=channel,
        caller=state(ctx).settings.actor,
        idempotency_key=idempotency_key,
        create_customer=create_customer,
    )
    _run(ctx, request, dry_run=False, as_json=as_json)


def validate(
    ctx: typer.Context,
    code: Code,
    customer: Customer,
    amount: Amount = None,
    currency_code: CurrencyCode = None,
    payment_ref: PaymentRef = None,
    product: Product = None,
    purchase_ref: PurchaseRef = None,
    create_customer: CreateCustomer = False,
    idempotency_key: IdempotencyKey = None,
    channel: ChannelOption = Channel.CLI,
    as_json: Json = False,
) -> None:
    """Check a code as ``redeem`` would and print what it would credit; nothing moves.

    A failed code still counts toward the lock-outs.
    """
    request = RedemptionRequest(
        code=code,
        customer=customer,
        amount=amount,
        currency=currency_code,
        payment_reference=payment_ref,
        product=product,
        purchase_reference=purchase_ref,
        channel=channel,
        caller=state(ctx).settings.actor,
        idempotency_key=idempotency_key,
        create_customer=create_customer,
    )
    _run(ctx, request, dry_run=True, as_json=as_json)


def _run(ctx: typer.Context, request: RedemptionRequest, *, dry_run: bool, as_json: bool) -> None:
    cli = state(ctx)
    actor = cli.settings.actor
    use_case = service.validate_redemption if dry_run else service.redeem_voucher
    with handled(as_json=as_json):
        app_ = cli.app()
        result = use_case(
            request,
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=actor,
            codebook=app_.codebook,
        )
    data = render.redemption_result(result, dry_run=dry_run)
    emit(data, as_json=as_json, human=lambda: _print_result(data))


def _print_result(data: dict[str, Any]) -> None:
    who, number = data["customer"], data["voucher_number"]
    if data["dry_run"]:
        console.print(
            f"voucher {number} can be redeemed by {who}; it would credit:", highlight=False
        )
    else:
        again = " (replayed: already done with this idempotency key)" if data["replayed"] else ""
        console.print(
            f"voucher {number} redeemed by {who}: redemption {data['redemption_id']}{again}",
            highlight=False,
        )
    console.print(f"{'paid':>14}: +{data['paid']}", highlight=False)
    console.print(f"{'bonus':>14}: +{data['bonus']}", highlight=False)
    if data["product"] is not None:
        console.print(
            f"{'payment':>14}: {data['payment']} toward {data['product']} "
            f"(purchase {data['purchase_reference']})",
            highlight=False,
            markup=False,
        )
    after = data["balance"]
    if after is not None:
        console.print(
            f"{'balance':>14}: {after['paid']} paid + {after['bonus']} bonus = {after['total']}",
            highlight=False,
        )


def reverse(
    ctx: typer.Context,
    redemption_id: Annotated[int, typer.Argument(help="The redemption's id.")],
    reason: Annotated[str, typer.Option(help="Why it is reversed; kept as the entry's memo.")],
    as_json: Json = False,
) -> None:
    """Undo a redemption within the reversal window (finance): the credit is taken back and
    the voucher is activated again."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        reversed_ = reversals.reverse_redemption(
            redemption_id,
            reason=reason,
            uow=app_.uow(),
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    data = render.redemption(reversed_)
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(
            f"redemption {redemption_id} reversed: {data['paid']} paid and {data['bonus']} "
            f"bonus taken back, voucher {data['voucher_number']} activated again",
            highlight=False,
        ),
    )


def show(
    ctx: typer.Context,
    redemption_id: Annotated[int, typer.Argument(help="The redemption's id.")],
    as_json: Json = False,
) -> None:
    """One redemption: what it credited, to whom, how, and whether it was reversed."""
    with handled(as_json=as_json):
        data = render.redemption(service.get_redemption(redemption_id, uow=state(ctx).app().uow()))

    def human() -> None:
        for key, value in data.items():
            console.print(f"{key:>18}: {value}", highlight=False, markup=False)

    emit(data, as_json=as_json, human=human)


def unlock(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="A customer's external reference.")] = None,
    caller: Annotated[str | None, typer.Option(help="An API key or session (a caller).")] = None,
    address: Annotated[str | None, typer.Option(help="A client IP address.")] = None,
    as_json: Json = False,
) -> None:
    """Lift the lock-out of one customer, caller or address and forget its failed codes."""
    with handled(as_json=as_json):
        given = [name for name in (customer, caller, address) if name is not None]
        if len(given) != 1:
            raise ValidationError("name exactly one of --customer, --caller or --address")
        subjects = [
            s
            for s in attempts.subjects_for(customer, caller, address)
            if s.scope is not Scope.GLOBAL
        ]
        if not subjects:
            raise ValidationError("the name to unlock is empty")
        subject = subjects[0]
        attempts.unlock(subject, uow=state(ctx).app().uow())
    emit(
        {"unlocked": {"scope": str(subject.scope), "name": subject.name}},
        as_json=as_json,
        human=lambda: console.print(f"unlocked {subject}", highlight=False, markup=False),
    )
