"""``vouchers qr NUMBER --reason …``: one voucher's QR code as a PNG or SVG file.

The QR code opens the redemption page with the code filled in, so showing it is a reveal:
the service records it, with the reason, in the voucher's history.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vouchers.adapters.qr import render_qr
from vouchers.entrypoints.cli.context import console, handled, state
from vouchers.services.qr_codes import DEFAULT_REDEEM_URL, QrFormat, voucher_qr


def register(app: typer.Typer) -> None:
    """Add ``vouchers qr`` to the root app."""
    app.command("qr")(qr)


def qr(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The voucher number.")],
    reason: Annotated[str, typer.Option(help="Why the code is shown; kept in its history.")],
    fmt: Annotated[QrFormat, typer.Option("--format", help="Image format.")] = QrFormat.PNG,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here; default standard output.")
    ] = None,
    redeem_url: Annotated[
        str, typer.Option(help="The redemption page the QR code opens.")
    ] = DEFAULT_REDEEM_URL,
) -> None:
    """Write a voucher's QR code (PNG or SVG); recorded in its history like a reveal."""
    cli = state(ctx)
    with handled():
        app_ = cli.app()
        drawn = voucher_qr(
            number,
            fmt=fmt,
            reason=reason,
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=cli.settings.actor,
            render=render_qr,
            redeem_url=redeem_url,
        )
    if out is None:
        sys.stdout.buffer.write(drawn.image)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(drawn.image)
        console.print(f"wrote {out} ({drawn.media_type}, {len(drawn.image):,} bytes)")
