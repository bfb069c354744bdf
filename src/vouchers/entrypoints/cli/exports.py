"""``vouchers export`` (a lot's activated vouchers to a file for the print house) and
``vouchers exports purge-expired`` (delete files past their retention).

An export is a process run: carried out at once, queued with ``--at``, or left awaiting
a second finance user's ``vouchers runs approve RUN`` under the ``export_four_eyes``
setting. The finished file is fetched with ``vouchers runs file RUN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vouchers.domain.exports import Encryption, EncryptionKind, parse_format, parse_recipients
from vouchers.domain.lifecycle import Process
from vouchers.domain.runs import RunStatus
from vouchers.entrypoints.cli import runs
from vouchers.entrypoints.cli.context import Json, console, emit, handled, parse_ref, state
from vouchers.errors import ValidationError
from vouchers.services import exports as service
from vouchers.services.exports import ExportRequest

app = typer.Typer(help="Export files: retention.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``export`` and the ``exports`` group to the root app."""
    root.command("export")(export)
    root.add_typer(app, name="exports")


def export(
    ctx: typer.Context,
    lot: Annotated[str, typer.Option("--lot", help="The lot (alternative code or id).")],
    export_format: Annotated[
        str, typer.Option("--format", help="csv, xlsx, xml or pdf (card sheets).")
    ],
    passphrase_env: Annotated[
        str | None,
        typer.Option(
            "--passphrase-env",
            help="Encrypt with age under the passphrase in this environment variable.",
        ),
    ] = None,
    recipient_key: Annotated[
        Path | None,
        typer.Option(
            "--recipient-key",
            help="Encrypt with age to the public keys in this file (age1… or ssh-ed25519).",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Schedule for this time (ISO 8601) instead of running now."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Export a lot's activated vouchers, codes in clear, as a process run."""
    with handled(as_json=as_json):
        request = ExportRequest(
            parse_ref(lot), parse_format(export_format), _encryption(passphrase_env, recipient_key)
        )
        if passphrase_env is not None and not state(ctx).app().environ.get(passphrase_env):
            raise ValidationError(f"the passphrase variable {passphrase_env} is not set")
    run = runs.submit(ctx, Process.EXPORT, request.as_criteria(), at=at, as_json=as_json)
    data = runs.render(run)

    def human() -> None:
        if run.status is RunStatus.AWAITING:
            console.print(
                f"run {run.id}: export awaits approval by another finance user "
                f"(vouchers runs approve {run.id})"
            )
        elif run.status is RunStatus.SCHEDULED:
            console.print(f"run {run.id}: export scheduled for {run.scheduled_for.isoformat()}")
        else:
            console.print(
                f"run {run.id}: exported {run.count} voucher(s) "
                f"(vouchers runs file {run.id} --out FILE)"
            )

    emit(data, as_json=as_json, human=human)


@app.command("purge-expired")
def purge_expired(ctx: typer.Context, as_json: Json = False) -> None:
    """Delete export files whose retention period (export_retention_days) has ended."""
    with handled(as_json=as_json):
        application = state(ctx).app()
        purged = service.purge_expired_exports(
            uow=application.uow(), clock=application.clock, files=application.export_files()
        )
    emit(
        {"purged": purged},
        as_json=as_json,
        human=lambda: console.print(f"deleted the files of {len(purged)} run(s)"),
    )


def _encryption(passphrase_env: str | None, recipient_key: Path | None) -> Encryption:
    if passphrase_env is not None and recipient_key is not None:
        raise ValidationError("choose --passphrase-env or --recipient-key, not both")
    if passphrase_env is not None:
        return Encryption(EncryptionKind.PASSPHRASE, passphrase_env=passphrase_env)
    if recipient_key is not None:
        try:
            text = recipient_key.read_text()
        except OSError as exc:
            raise ValidationError(f"cannot read {recipient_key}: {exc.strerror}") from exc
        return Encryption(EncryptionKind.RECIPIENTS, recipients=parse_recipients(text))
    return Encryption()
