"""Wallets and the journal: ``vouchers balance`` and ``vouchers debit`` (the host platform
spending a balance), ``vouchers ledger show`` (journal entries, newest first) and
``vouchers ledger verify`` (every entry sums to zero, every wallet equals its postings).

``ledger verify`` exits 0 and prints ``ledger OK`` with the account totals when the books
agree, and otherwise prints each problem and exits 5, so a cron job can alert on it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.ledger import DebitOrder
from vouchers.domain.money import currency
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, fail, handled, state
from vouchers.entrypoints.cli.customers import CustomerRef, print_balances
from vouchers.services import customers, wallets
from vouchers.services import ledger as service
from vouchers.services.wallets import DebitRequest

LEDGER_PROBLEMS_EXIT = 5

app = typer.Typer(help="The double-entry journal behind every wallet.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``balance``, ``debit`` and ``ledger`` to the root app."""
    root.command("balance")(balance)
    root.command("debit")(debit)
    root.add_typer(app, name="ledger")


def balance(
    ctx: typer.Context,
    ref: CustomerRef,
    currency_code: Annotated[
        str | None, typer.Option("--currency", help="Only this currency (shown even if zero).")
    ] = None,
    as_json: Json = False,
) -> None:
    """A customer's paid and bonus balances, per currency."""
    with handled(as_json=as_json):
        found, held = customers.customer_wallets(ref, uow=state(ctx).app().uow())
        balances = [render.wallet(w) for w in held]
        if currency_code is not None:
            code = currency(currency_code).code
            balances = [b for b in balances if b["currency"] == code] or [
                render.balance(code, 0, 0)
            ]
    data = {"customer": found.external_ref, "balances": balances}
    emit(data, as_json=as_json, human=lambda: print_balances(balances))


def debit(
    ctx: typer.Context,
    ref: CustomerRef,
    amount: Annotated[str, typer.Argument(help="How much to take out, e.g. 5.00.")],
    currency_code: Annotated[str, typer.Option("--currency", help="The wallet's currency.")],
    reference: Annotated[
        str | None, typer.Option(help="The host platform's reference for the spend.")
    ] = None,
    order: Annotated[
        DebitOrder | None,
        typer.Option(help="Which balance goes first; default the debit_order setting."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Run again with the same key: the first answer."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Take an amount out of a customer's wallet (bonus first unless told otherwise)."""
    cli = state(ctx)
    actor = cli.settings.actor
    request = DebitRequest(
        customer=ref,
        amount=amount,
        currency=currency_code,
        reference=reference,
        order=order,
        caller=actor,
        idempotency_key=idempotency_key,
    )
    with handled(as_json=as_json):
        app_ = cli.app()
        result = wallets.debit_wallet(request, uow=app_.uow(), clock=app_.clock, actor=actor)
    data = render.debit_result(result)

    def human() -> None:
        after = data["balance"]
        again = " (replayed: already done with this idempotency key)" if data["replayed"] else ""
        console.print(
            f"debited {data['amount']} from {data['customer']} ({data['from_bonus']} bonus, "
            f"{data['from_paid']} paid): entry {data['entry_id']}{again}",
            highlight=False,
            markup=False,
        )
        console.print(
            f"balance: {after['paid']} paid + {after['bonus']} bonus = {after['total']}",
            highlight=False,
        )

    emit(data, as_json=as_json, human=human)


@app.command("show")
def show(
    ctx: typer.Context,
    customer: Annotated[
        str | None, typer.Option(help="Only entries touching this customer's wallets.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    before: Annotated[
        int | None, typer.Option(help="Only entries older than this entry id (next page).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Journal entries, newest first, with their postings."""
    with handled(as_json=as_json):
        entries = service.journal(
            uow=state(ctx).app().uow(), customer=customer, before=before, limit=limit
        )
    data = [render.journal_entry(entry) for entry in entries]

    def human() -> None:
        table = Table("entry", "at", "kind", "by", "account", "customer", "amount", "memo")
        for row in data:
            for i, posting in enumerate(row["postings"]):
                first = i == 0
                table.add_row(
                    str(row["id"]) if first else "",
                    row["at"][:19].replace("T", " ") if first else "",
                    row["kind"] if first else "",
                    row["by"] if first else "",
                    posting["account"],
                    "" if posting["customer_id"] is None else str(posting["customer_id"]),
                    posting["amount"],
                    (row["memo"] or row["reference"] or "") if first else "",
                )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("verify")
def verify(ctx: typer.Context, as_json: Json = False) -> None:
    """Prove the books agree: exit 0 and "ledger OK", or list the problems and exit 5."""
    with handled(as_json=as_json):
        data = render.ledger_check(service.verify_ledger(uow=state(ctx).app().uow()))
    emit(data, as_json=as_json, human=lambda: _print_check(data))
    if not data["ok"]:
        problems = len(data["unbalanced_entries"]) + len(data["wallet_mismatches"])
        # The report is already on stdout (as JSON under --json); only the error line is left.
        fail(
            f"the ledger does not agree with itself: {problems} problem(s)",
            LEDGER_PROBLEMS_EXIT,
            kind="ledger-inconsistent",
        )


def _print_check(data: dict[str, Any]) -> None:
    if data["ok"]:
        console.print("ledger OK")
    for row in data["unbalanced_entries"]:
        console.print(
            f"entry {row['entry_id']} does not sum to zero in {row['currency']}: {row['sum']}",
            highlight=False,
        )
    for row in data["wallet_mismatches"]:
        console.print(
            f"wallet of customer {row['customer_id']} in {row['currency']}: paid {row['paid']} "
            f"but the journal says {row['paid_from_journal']}; bonus {row['bonus']} but the "
            f"journal says {row['bonus_from_journal']}",
            highlight=False,
        )
    table = Table("account", "currency", "balance")
    for row in data["totals"]:
        table.add_row(row["account"], row["currency"], row["balance"])
    console.print(table)
