"""``vouchers settings``: show the operator settings, change one (printed as old → new and
recorded with who and when), and list the recent changes.

Per-currency settings are keyed ``name.CUR`` (``minimum_amount.EUR 10.00``); the value
``none`` restores a setting's default. A bad key or value is refused with exit 2 and
nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.settings import DEFINITIONS
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.services import settings as service

app = typer.Typer(
    help="Operator settings: limits, lock-outs, reversal window, debit order.",
    no_args_is_help=True,
)


@app.command("show")
def show(ctx: typer.Context, as_json: Json = False) -> None:
    """Every setting with its effective value (defaults included)."""
    with handled(as_json=as_json):
        data = service.show_settings(uow=state(ctx).app().uow())

    def human() -> None:
        table = Table("setting", "value", "meaning")
        for key, value in data.items():
            table.add_row(key, "-" if value is None else value, _help(key))
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[
        str, typer.Argument(help="The setting, e.g. debit_order or minimum_amount.EUR.")
    ],
    value: Annotated[str, typer.Argument(help="Its new value; 'none' restores the default.")],
    as_json: Json = False,
) -> None:
    """Change one setting; print the old and the new value."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        change = service.set_setting(
            key, value, uow=app_.uow(), clock=app_.clock, actor=cli.settings.actor
        )
    data = render.setting_change(change)
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(
            f"{data['key']}: {_shown(data['key'], data['old'])} → "
            f"{_shown(data['key'], data['new'])}",
            highlight=False,
            markup=False,
        ),
    )


@app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """The most recent setting changes, newest first: old and new value, who and when."""
    with handled(as_json=as_json):
        changes = service.setting_changes(uow=state(ctx).app().uow(), limit=limit)
    data = [render.setting_change(change) for change in changes]

    def human() -> None:
        table = Table("at", "setting", "old", "new", "by")
        for row in data:
            table.add_row(
                (row["at"] or "")[:19].replace("T", " "),
                row["key"],
                _shown(row["key"], row["old"]),
                _shown(row["key"], row["new"]),
                row["by"],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


def _help(key: str) -> str:
    definition = DEFINITIONS.get(key.partition(".")[0])
    return "" if definition is None else definition.help


def _shown(key: str, value: Any) -> str:
    """A stored value, or what the default is when none is stored."""
    if value is not None:
        return str(value)
    # History may name a setting a later version dropped.
    definition = DEFINITIONS.get(key.partition(".")[0])
    default = None if definition is None else definition.default
    return "(default: none)" if default is None else f"(default: {default})"
