"""The export directory: where export files are written, encrypted and deleted.

A file is written under a temporary name (mode 0600) and renamed into place only once it
is complete, so a half-written file is never taken for an export. When it is encrypted the
plain file is overwritten with zeros and removed as soon as the encrypted one exists (a
best effort on journalling and copy-on-write file systems: keep the export directory on an
encrypted volume where that matters). Whatever fails, no file is left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from vouchers.adapters.exports.csvfile import write_csv
from vouchers.adapters.exports.encryption import encrypt_file
from vouchers.adapters.exports.xlsxfile import write_xlsx
from vouchers.adapters.exports.xmlfile import write_xml
from vouchers.domain.exports import Encryption, EncryptionKind, ExportFormat, ExportRow
from vouchers.errors import StorageError, ValidationError
from vouchers.services.ports import ExportMeta

_BUFFER = 1 << 20


class ExportFileStore:
    """Export files in ``directory`` (created with mode 0700)."""

    def __init__(self, directory: Path, *, pdf_options: dict[str, object] | None = None) -> None:
        self.directory = directory
        self.pdf_options = pdf_options or {}

    def supports(self, export_format: ExportFormat) -> bool:
        if export_format is ExportFormat.PDF:
            return _pdf_module() is not None
        return True

    def write(
        self,
        export_format: ExportFormat,
        rows: Iterable[ExportRow],
        *,
        meta: ExportMeta,
        encryption: Encryption,
        passphrase: str | None = None,
    ) -> str:
        self._ensure_directory()
        stem = f"run-{meta.run_id}-{meta.lot}".replace("/", "_")
        final = self.directory / (stem + export_format.suffix + encryption.suffix)
        token = secrets.token_hex(4)
        plain = self.directory / f".{stem}.{token}{export_format.suffix}.part"
        sealed = self.directory / f".{stem}.{token}.age.part"
        try:
            self._write_plain(export_format, rows, plain, meta)
            if encryption.kind is EncryptionKind.NONE:
                os.replace(plain, final)
            else:
                _create_private(sealed).close()
                encrypt_file(plain, sealed, encryption, passphrase)
                _fsync(sealed)
                os.replace(sealed, final)
        except BaseException:
            for leftover in (plain, sealed, final):
                _shred(leftover)
            raise
        finally:
            _shred(plain)
        return str(final)

    def delete(self, path: str) -> bool:
        target = Path(path)
        if not target.exists():
            return False
        _shred(target)
        return True

    # -- writing -------------------------------------------------------------------------

    def _write_plain(
        self, export_format: ExportFormat, rows: Iterable[ExportRow], plain: Path, meta: ExportMeta
    ) -> None:
        if export_format is ExportFormat.XLSX:
            _create_private(plain).close()
            write_xlsx(rows, plain, tmpdir=self.directory)
        elif export_format is ExportFormat.PDF:
            module = _pdf_module()
            if module is None:
                raise ValidationError("PDF export not available")
            _create_private(plain).close()
            module.render_pdf_sheets(  # type: ignore[attr-defined]
                _cards(module, rows),
                plain,
                operator=str(self.pdf_options.get("operator", "Vouchers")),
            )
        else:
            with _create_private(plain) as out:
                if export_format is ExportFormat.CSV:
                    write_csv(rows, out)
                else:
                    write_xml(rows, out, meta)
                out.flush()
                os.fsync(out.fileno())
        _fsync(plain)

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise StorageError(f"cannot use the export directory {self.directory}: {exc}") from exc


def _cards(module: object, rows: Iterable[ExportRow]) -> Iterator[object]:
    card = module.Card  # type: ignore[attr-defined]
    for row in rows:
        yield card(
            number=row.number,
            code=row.code_grouped,
            value=f"{row.value} {row.currency}",
            expiry=row.expires_at[:10],
        )


def _pdf_module() -> object | None:
    # The PDF card sheets are an optional part (ReportLab); exports work without them.
    try:
        from vouchers.adapters import pdf  # noqa: PLC0415
    except ImportError:
        return None
    return pdf if hasattr(pdf, "render_pdf_sheets") else None


def _create_private(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb", buffering=_BUFFER)


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _shred(path: Path) -> None:
    """Overwrite with zeros, then remove (nothing if the file is gone)."""
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        with path.open("r+b") as handle:
            zeros = bytes(min(size, _BUFFER))
            left = size
            while left > 0:
                left -= handle.write(zeros[: min(left, _BUFFER)])
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
