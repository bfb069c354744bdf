"""``POST /imports``: codes from another system, as a CSV request body, into new lots.

The same use case as ``vouchers import`` (:func:`vouchers.services.imports.import_csv`):
every row is checked, and unless every row passes nothing is imported (``skip_invalid``
imports the valid rows alone). The file is the raw body (``Content-Type: text/csv``, UTF-8),
which is what a host platform's HTTP client sends most simply (``curl --data-binary``);
the options are query parameters. The body is read up to ``MAX_IMPORT_BYTES``: a larger
one is refused with 413 before it is parsed. A refused import is a 422 problem
(``/problems/import-refused``) that carries the report: every refused row by line and
reason, never a code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel

from vouchers.domain.access import Permission, Principal
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import PRINTABLE, LotPublic, amount_minor, parse_ref
from vouchers.errors import ImportRefusedError, ValidationError
from vouchers.services import voucher_types
from vouchers.services.imports import ImportReport, import_csv

router = APIRouter(prefix="/imports", tags=["imports"])

MAX_IMPORT_BYTES = 32 * 1024 * 1024
"""The largest body read: a million codes in display form, one a line, fit."""

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})
# Free text that reaches the database: printable, no control characters (PostgreSQL
# refuses NUL in text, and bad input is never a 500).
LOT_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "CSV with a header row and a `code` column (UTF-8); see docs/imports.md.",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "code,value,expires_at\nABCD-EFGH-JKMN-PQRS-T,50.00,2027-12-31\n",
            }
        },
    }
}


class RejectedRowPublic(BaseModel):
    line: int
    reason: str
    message: str


class ImportedLotPublic(LotPublic):
    first_number: int | None
    last_number: int | None


class ImportReportPublic(BaseModel):
    rows: int
    imported: int
    rejected: list[RejectedRowPublic]
    lots: list[ImportedLotPublic]
    ignored_columns: list[str]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportPublic:
        return cls(
            rows=report.rows,
            imported=report.imported,
            rejected=[
                RejectedRowPublic(line=row.line, reason=str(row.reason), message=row.message)
                for row in report.rejected
            ],
            lots=[
                ImportedLotPublic(
                    **LotPublic.of(lot).model_dump(),
                    first_number=lot.first_number,
                    last_number=None
                    if lot.first_number is None
                    else lot.first_number + lot.count - 1,
                )
                for lot in report.lots
            ],
            ignored_columns=list(report.ignored_columns),
        )


async def csv_body(request: Request) -> str:
    """The request body as text: ``text/csv``, at most ``MAX_IMPORT_BYTES``, UTF-8.

    Raises HTTPException 415 for another media type, 413 for a larger body (by its
    ``Content-Length``, or while reading a chunked one), ValidationError for bytes that
    are not UTF-8.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in CSV_MEDIA_TYPES:
        raise HTTPException(415, "send the file as the body with 'Content-Type: text/csv'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise _too_large()
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"the file is not UTF-8 text (byte {exc.start})") from None


def _too_large() -> HTTPException:
    return HTTPException(
        413, f"an import file has at most {MAX_IMPORT_BYTES:,} bytes; split it, or use the CLI"
    )


@router.post(
    "",
    status_code=201,
    openapi_extra=CSV_BODY,
    responses={413: {"description": "Body too large"}, 415: {"description": "Not text/csv"}},
)
def import_codes(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.IMPORTS_CREATE))],
    text: Annotated[str, Depends(csv_body)],
    type: Annotated[
        str, Query(min_length=1, max_length=32, pattern=PRINTABLE, description="Type code or id.")
    ],
    lot: Annotated[str | None, Query(min_length=1, max_length=32, pattern=LOT_CODE)] = None,
    skip_invalid: bool = False,
    value: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    expires_at: Annotated[AwareDatetime | None, Query()] = None,
    description: Annotated[str, Query(max_length=2000, pattern=PRINTABLE)] = "",
) -> ImportReportPublic:
    """Import the codes of a CSV file into new posted lots of a voucher type.

    ``lot`` names the new lot (``<lot>-1``, ``-2`` … when rows ask for several); ``value``
    is the value of rows without one (variable-value types), ``expires_at`` the expiry of
    rows without one. Nothing is imported unless every row passes (``422
    /problems/import-refused`` with the report), or ``skip_invalid`` imports the rest.
    """
    type_ref = parse_ref(type)
    currency = voucher_types.get_voucher_type(type_ref, uow=app.uow()).currency
    report = ImportReportPublic.of(
        import_csv(
            text,
            type_ref=type_ref,
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor=actor_name(principal),
            lot_code=lot,
            skip_invalid=skip_invalid,
            value_minor=amount_minor(value, currency),
            expires_at=expires_at,
            description=description,
        )
    )
    if report.imported == 0:
        raise ImportRefusedError(
            f"nothing imported: {len(report.rejected):,} of {report.rows:,} rows refused",
            report=report.model_dump(mode="json"),
        )
    return report
