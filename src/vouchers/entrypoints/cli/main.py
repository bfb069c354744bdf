"""The root ``vouchers`` command: global options, sub-apps, and one-line error handling."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

# Typer vendors Click; its usage errors are raised as these when standalone mode is off.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from vouchers.config import Settings
from vouchers.entrypoints.cli import (
    apikeys,
    customers,
    db,
    definitions,
    demo,
    exports,
    imports,
    keys,
    ledger,
    lots,
    portal,
    processes,
    qr_codes,
    redemptions,
    runs,
    serve,
    types,
    users,
    vouchers,
)
from vouchers.entrypoints.cli import settings as operator_settings
from vouchers.entrypoints.cli.context import CliState, handled

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
app.add_typer(definitions.app, name="definitions")
app.add_typer(keys.app, name="keys")
app.add_typer(db.app, name="db")
app.add_typer(customers.app, name="customers")
app.add_typer(operator_settings.app, name="settings")
app.add_typer(users.app, name="users")
app.add_typer(apikeys.app, name="apikeys")
vouchers.register(app)
processes.register(app, lots=lots.app)
runs.register(app)
redemptions.register(app)
ledger.register(app)
demo.register(app)
serve.register(app)
exports.register(app)
imports.register(app)
qr_codes.register(app)
portal.register(app)


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
    with handled():  # a malformed variable is one error line, not a traceback
        settings = Settings.from_env(home=home, database_url=database_url, actor=actor)
    ctx.obj = CliState(settings)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every error ends as one line on stderr and a non-zero exit code."""
    try:
        result = app(args=argv, prog_name="vouchers", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("vouchers: aborted\n")
        sys.exit(130)
    except NoArgsIsHelpError as exc:
        sys.stdout.write(exc.format_message() + "\n")
        sys.exit(2)
    except ClickException as exc:
        sys.stderr.write(f"vouchers: error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    sys.exit(result if isinstance(result, int) else 0)
