"""``vouchers customers``: create, show (with balances and recent redemptions), list and
update the customers who redeem vouchers, and set their portal password.

A customer is named on the command line by its external reference (the host platform's
account number), never by its internal id, so a reference made of digits is not mistaken
for one.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.customers import CustomerStatus
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.errors import ValidationError
from vouchers.services import customers as service
from vouchers.services import redemptions

RECENT_REDEMPTIONS = 10

app = typer.Typer(
    help="Customers: the accounts that redeem vouchers and hold wallets.", no_args_is_help=True
)

CustomerRef = Annotated[str, typer.Argument(help="The customer's external reference.")]


@app.command("create")
def create(
    ctx: typer.Context,
    ref: Annotated[str, typer.Option("--ref", help="External reference, e.g. the account id.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    kyc: Annotated[bool, typer.Option("--kyc", help="The customer is KYC-verified.")] = False,
    as_json: Json = False,
) -> None:
    """Create an active customer."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        created = service.create_customer(
            ref,
            uow=app_.uow(),
            clock=app_.clock,
            actor=cli.settings.actor,
            name=name,
            phone=phone or None,
            email=email or None,
            kyc_verified=kyc,
        )
    data = render.customer(created)
    emit(data, as_json=as_json, human=lambda: _print_fields(data))


@app.command("show")
def show(ctx: typer.Context, ref: CustomerRef, as_json: Json = False) -> None:
    """One customer, their balances per currency and their most recent redemptions."""
    with handled(as_json=as_json):
        app_ = state(ctx).app()
        found, wallets = service.customer_wallets(ref, uow=app_.uow())
        recent = redemptions.customer_redemptions(ref, uow=app_.uow(), limit=RECENT_REDEMPTIONS)
    data = {
        **render.customer(found),
        "balances": [render.wallet(w) for w in wallets],
        "recent_redemptions": [render.redemption(r) for r in recent],
    }

    def human() -> None:
        _print_fields(render.customer(found))
        print_balances(data["balances"])
        if recent:
            table = Table("redemption", "voucher", "at", "paid", "bonus", "payment", "status")
            for row in data["recent_redemptions"]:
                table.add_row(
                    str(row["id"]),
                    str(row["voucher_number"]),
                    row["redeemed_at"][:19].replace("T", " "),
                    row["paid"],
                    row["bonus"],
                    row["payment"],
                    row["status"],
                )
            console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("list")
def list_(
    ctx: typer.Context,
    after: Annotated[str, typer.Option(help="Start after this external reference.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Json = False,
) -> None:
    """Customers in external-reference order (pass the last one shown as --after)."""
    with handled(as_json=as_json):
        found = service.list_customers(uow=state(ctx).app().uow(), after=after, limit=limit)
    data = [render.customer(c) for c in found]

    def human() -> None:
        table = Table("ref", "name", "status", "kyc", "created")
        for row in data:
            table.add_row(
                row["external_ref"],
                row["name"],
                row["status"],
                "yes" if row["kyc_verified"] else "no",
                (row["created_at"] or "")[:10],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("update")
def update(
    ctx: typer.Context,
    ref: CustomerRef,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    phone: Annotated[str | None, typer.Option(help="New phone number; '' clears it.")] = None,
    email: Annotated[str | None, typer.Option(help="New e-mail address; '' clears it.")] = None,
    kyc: Annotated[
        bool | None, typer.Option("--kyc/--no-kyc", help="Mark KYC-verified, or not.")
    ] = None,
    block: Annotated[
        bool | None,
        typer.Option("--block/--unblock", help="Block (no redeeming or spending), or unblock."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Change a customer's name, contacts, KYC flag or status."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name.strip()
    if phone is not None:
        changes["phone"] = phone.strip() or None
    if email is not None:
        changes["email"] = email.strip() or None
    if kyc is not None:
        changes["kyc_verified"] = kyc
    if block is not None:
        changes["status"] = CustomerStatus.BLOCKED if block else CustomerStatus.ACTIVE
    with handled(as_json=as_json):
        if not changes:
            raise ValidationError(
                "say what to change: --name, --phone, --email, --kyc/--no-kyc, --block/--unblock"
            )
        cli = state(ctx)
        app_ = cli.app()
        updated = service.update_customer(
            ref, changes, uow=app_.uow(), clock=app_.clock, actor=cli.settings.actor
        )
    data = render.customer(updated)
    emit(data, as_json=as_json, human=lambda: _print_fields(data))


@app.command("set-password")
def set_password(
    ctx: typer.Context,
    ref: CustomerRef,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Set or reset the password the customer signs in to the portal with.

    Prompted for twice on the terminal unless --password-stdin; never an argument (argv is
    visible to every user of the machine).
    """
    with handled(as_json=as_json):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        cli = state(ctx)
        app_ = cli.app()
        customer = service.set_customer_password(
            ref,
            password,
            uow=app_.uow(),
            passwords=app_.passwords,
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    data = {"external_ref": customer.external_ref, "password_set": True}
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(
            f"portal password set for {customer.external_ref}", highlight=False, markup=False
        ),
    )


def print_balances(balances: list[dict[str, Any]]) -> None:
    """A table of balances per currency, or a line saying there are none."""
    if not balances:
        console.print("no balance yet")
        return
    table = Table("currency", "paid", "bonus", "total")
    for row in balances:
        table.add_row(row["currency"], row["paid"], row["bonus"], row["total"])
    console.print(table)


def _print_fields(data: dict[str, Any]) -> None:
    for key, value in data.items():
        console.print(f"{key:>14}: {value}", highlight=False, markup=False)
