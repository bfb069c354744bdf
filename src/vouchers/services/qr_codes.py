"""Use case: one voucher's QR code, which opens the redemption page with its code filled in.

Showing a QR code shows the code, so it is a reveal: it goes through
:func:`vouchers.services.vouchers.reveal_code`, which refuses a purged voucher and records
who, when and why in the voucher's history (the note says it was a QR code and in which
format). Services never import adapters, so the image is drawn by a :class:`QrRenderer`
the caller passes in (``vouchers.adapters.qr.render_qr`` in production), as the code
vault is passed in: the service decides *what* is encoded, the adapter *how* it looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote

from vouchers.errors import ValidationError
from vouchers.services.ports import Clock, CodeVault, UnitOfWork
from vouchers.services.vouchers import reveal_code

DEFAULT_REDEEM_URL = "http://127.0.0.1:8000/redeem"
"""The redemption page of a local server; operators pass their public address."""


class QrFormat(StrEnum):
    """Image formats a QR code is drawn in."""

    PNG = "png"
    SVG = "svg"

    @property
    def media_type(self) -> str:
        """The MIME type of an image in this format."""
        return "image/png" if self is QrFormat.PNG else "image/svg+xml"


class QrRenderer(Protocol):
    """Draws ``content`` as a QR code image in ``fmt``; returns the file's bytes."""

    def __call__(self, content: str, fmt: QrFormat) -> bytes: ...


@dataclass(frozen=True)
class VoucherQr:
    """A drawn QR code of one voucher."""

    number: int
    fmt: QrFormat
    image: bytes

    @property
    def media_type(self) -> str:
        return self.fmt.media_type


def redemption_url(code: str, redeem_url: str = DEFAULT_REDEEM_URL) -> str:
    """The redemption page's address with ``code`` filled in: ``<redeem_url>?code=<code>``.

    The code is percent-encoded (custom alphabets may hold ``&`` or ``#``); a base address
    that already has a query string gets ``&code=``. Raises ValidationError for a base
    address that is not http(s).
    """
    if not redeem_url.startswith(("http://", "https://")):
        raise ValidationError(f"the redemption page address {redeem_url!r} is not http(s)")
    joiner = "&" if "?" in redeem_url else "?"
    return f"{redeem_url}{joiner}code={quote(code, safe='-')}"


def voucher_qr(
    number: int,
    *,
    fmt: QrFormat | str,
    reason: str,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    render: QrRenderer,
    redeem_url: str = DEFAULT_REDEEM_URL,
) -> VoucherQr:
    """The QR code of voucher ``number``: its redemption URL with the code in display form.

    Recorded in the voucher's history as a reveal with ``reason``. Raises ValidationError
    without a reason or for an unknown format or address, VoucherNotFoundError,
    InvalidTransitionError for a purged voucher, KeyMaterialError if the secret does not
    decrypt.
    """
    if not reason.strip():
        raise ValidationError("say why the QR code is shown (--reason)")
    try:
        image_format = QrFormat(fmt)
    except ValueError:
        raise ValidationError(f"QR codes are drawn as png or svg, not {fmt!r}") from None
    redemption_url("", redeem_url)  # refuse a bad address before anything is revealed
    with uow:
        lot = uow.lots.get(uow.vouchers.get(number).lot_id)
        code_format = lot.code_format(uow.voucher_types.get(lot.type_id))
    code = reveal_code(
        number,
        reason=f"{reason.strip()} (QR code, {image_format})",
        uow=uow,
        vault=vault,
        clock=clock,
        actor=actor,
    )
    url = redemption_url(code_format.display(code), redeem_url)
    return VoucherQr(number, image_format, render(url, image_format))
