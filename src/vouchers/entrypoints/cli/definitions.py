"""``vouchers definitions``: business definitions, which narrow the states the restrictable
processes (modification, activation, cancellation, purging, export) may address; at most
one is active."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.lifecycle import BusinessDefinition, Process, parse_states
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, parse_ref, state
from vouchers.services import definitions as service

app = typer.Typer(
    help="Business definitions: narrow what each life-cycle process may address.",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="Definition alternative code or id.")]


def _states_option(process: str) -> Any:
    return typer.Option(help=f"States {process} may still address, comma-separated.")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Display name.")],
    alternative_code: Annotated[str, typer.Option(help="Unique short code.")],
    modification: Annotated[str | None, _states_option("modify")] = None,
    activation: Annotated[str | None, _states_option("activate")] = None,
    cancellation: Annotated[str | None, _states_option("cancel")] = None,
    purging: Annotated[str | None, _states_option("purge")] = None,
    export: Annotated[str | None, _states_option("export")] = None,
    make_active: Annotated[
        bool, typer.Option("--activate", help="Make it the active definition.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Create a definition; a process left out keeps its default states."""
    cli = state(ctx)
    given = {
        Process.MODIFY: modification,
        Process.ACTIVATE: activation,
        Process.CANCEL: cancellation,
        Process.PURGE: purging,
        Process.EXPORT: export,
    }
    with handled(as_json=as_json):
        restrictions: dict[Process, frozenset[VoucherState]] = {
            process: parse_states(text.split(","))
            for process, text in given.items()
            if text is not None
        }
        definition = BusinessDefinition(
            alternative_code=alternative_code,
            name=name,
            restrictions=restrictions,
        )
        app_ = cli.app()
        saved = service.create_definition(
            definition,
            uow=app_.uow(),
            clock=app_.clock,
            actor=cli.settings.actor,
            activate=make_active,
        )
    data = render.definition(saved)
    emit(data, as_json=as_json, human=lambda: _print_definition(data))


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """List definitions, oldest first."""
    with handled(as_json=as_json):
        found = service.list_definitions(uow=state(ctx).app().uow())
    data = [render.definition(definition) for definition in found]

    def human() -> None:
        table = Table("code", "name", "active", "restrictions")
        for row in data:
            table.add_row(
                row["alternative_code"],
                row["name"],
                "yes" if row["active"] else "",
                _restrictions(row["restrictions"]),
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("show")
def show(ctx: typer.Context, ref: Ref, as_json: Json = False) -> None:
    """Show one definition."""
    with handled(as_json=as_json):
        found = service.get_definition(parse_ref(ref), uow=state(ctx).app().uow())
    data = render.definition(found)
    emit(data, as_json=as_json, human=lambda: _print_definition(data))


@app.command("activate")
def activate(ctx: typer.Context, ref: Ref, as_json: Json = False) -> None:
    """Make this definition the active one (the previous one stops applying)."""
    with handled(as_json=as_json):
        found = service.activate_definition(parse_ref(ref), uow=state(ctx).app().uow())
    data = render.definition(found)
    emit(data, as_json=as_json, human=lambda: _print_definition(data))


@app.command("deactivate")
def deactivate(ctx: typer.Context, as_json: Json = False) -> None:
    """Leave no definition active: every process addresses its default states."""
    with handled(as_json=as_json):
        service.deactivate_definitions(uow=state(ctx).app().uow())
    emit(
        {"active": None},
        as_json=as_json,
        human=lambda: console.print("no business definition is active"),
    )


def _print_definition(data: dict[str, object]) -> None:
    restrictions = data["restrictions"]
    assert isinstance(restrictions, dict)
    console.print(
        f"[bold]{data['alternative_code']}[/] {data['name']}"
        f"{' (active)' if data['active'] else ''}: {_restrictions(restrictions)}",
        highlight=False,
    )


def _restrictions(restrictions: dict[str, list[str]]) -> str:
    if not restrictions:
        return "no restrictions"
    return "; ".join(
        f"{process} only {', '.join(states) or 'nothing'}"
        for process, states in restrictions.items()
    )
