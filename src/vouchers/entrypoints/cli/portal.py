"""``vouchers portal``: the customer portal from the operator's shell.

``vouchers portal link REF`` prints a sign-in link for a customer, signed with the first
secret of ``VOUCHERS_PORTAL_LINK_KEYS``: what a host platform computes itself (docs/portal.md
shows how), for trying the portal out and for support. The link signs in once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from vouchers.domain.portal import DEFAULT_LINK_MINUTES, MAX_LINK_SECONDS
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.errors import ValidationError
from vouchers.services import portal as service

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

app = typer.Typer(help="The customer portal: sign-in links.", no_args_is_help=True)


@app.command("link")
def link(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The customer's external reference.")],
    minutes: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_LINK_SECONDS // 60, help="How long the link is valid, in minutes."
        ),
    ] = DEFAULT_LINK_MINUTES,
    base_url: Annotated[
        str, typer.Option("--base-url", help="The server's public address.")
    ] = DEFAULT_BASE_URL,
    as_json: Json = False,
) -> None:
    """Print a link that signs the customer in to the portal, once, within --minutes."""
    with handled(as_json=as_json):
        if not base_url.startswith(("http://", "https://")):
            raise ValidationError(f"--base-url {base_url!r} is not an http(s) address")
        cli = state(ctx)
        app_ = cli.app()
        signed = service.make_sign_in_link(
            ref,
            keys=cli.settings.portal_link_keys,
            uow=app_.uow(),
            clock=app_.clock,
            minutes=minutes,
        )
    data = {
        "customer": signed.customer_ref,
        "expires": signed.expires,
        "expires_at": datetime.fromtimestamp(signed.expires, UTC).isoformat(),
        "url": signed.url(base_url),
    }
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(data["url"], soft_wrap=True, highlight=False, markup=False),
    )


def register(root: typer.Typer) -> None:
    """Add ``vouchers portal``."""
    root.add_typer(app, name="portal")
