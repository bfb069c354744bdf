"""The root ``vouchers`` command: global options, sub-apps, and one-line error handling."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from vouchers.config import Settings
from vouchers.entrypoints.cli import db, demo, keys, lots, types, vouchers
from vouchers.entrypoints.cli.context import CliState, err_console

app = typer.Typer(
    name="vouchers",
    help="Vouchers: secret codes in lots, a controlled life cycle, wallets and redemption.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(types.app, name="types")
app.add_typer(lots.app, name="lots")
app.add_typer(keys.app, name="keys")
app.add_typer(db.app, name="db")
vouchers.register(app)
demo.register(app)


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL; default $VOUCHERS_DATABASE_URL or SQLite in the data directory.",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data directory; default $VOUCHERS_HOME or ./vouchers-data."),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Acting staff user; default $VOUCHERS_USER or the OS user."),
    ] = None,
) -> None:
    """Global options, read before any command runs."""
    settings = Settings.from_env(home=home, database_url=database_url, actor=actor)
    ctx.obj = CliState(settings)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; usage errors become one line and exit code 2."""
    try:
        app(args=argv, prog_name="vouchers", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("vouchers: aborted", markup=False)
        sys.exit(130)
    except click.ClickException as exc:
        err_console.print(f"vouchers: error: {exc.format_message()}", markup=False)
        sys.exit(exc.exit_code)
    sys.exit(0)
