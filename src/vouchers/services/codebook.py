"""The code formats in use, for telling a typo from a guess and finding a typed code.

A typed code is checked against every format codes are issued in (each type's format,
and each lot prefix on it) without touching the voucher table: if no format accepts it,
it is a typo. Formats only ever grow (a type's format is fixed once created), so the
book is cached per process and reloaded only when a code matches nothing.
"""

from __future__ import annotations

import dataclasses
import threading

from vouchers.domain.codes import CodeFormat
from vouchers.errors import MalformedCodeError
from vouchers.services.ports import CodeVault, UnitOfWork


class CodeBook:
    """The set of code formats in use; thread-safe, reloaded on demand."""

    def __init__(self) -> None:
        self._formats: frozenset[CodeFormat] | None = None
        self._lock = threading.Lock()

    def formats(self, uow: UnitOfWork, *, reload: bool = False) -> frozenset[CodeFormat]:
        """The formats in use (inside an open unit of work)."""
        if self._formats is None or reload:
            loaded = load_formats(uow)
            with self._lock:
                self._formats = loaded
            return loaded
        return self._formats

    def candidates(self, typed: str, uow: UnitOfWork, *, reload: bool = False) -> list[str]:
        """The canonical codes ``typed`` may be, one per format that accepts it.

        Raises MalformedCodeError (a typo) when no format does.
        """
        return parse_candidates(typed, self.formats(uow, reload=reload))


def load_formats(uow: UnitOfWork) -> frozenset[CodeFormat]:
    types = {t.id: t for t in uow.voucher_types.list()}
    formats = {t.code_format for t in types.values()}
    for type_id, prefix in uow.lots.prefixes():
        if prefix is not None and type_id in types:
            formats.add(dataclasses.replace(types[type_id].code_format, prefix=prefix))
    return frozenset(formats)


def parse_candidates(typed: str, formats: frozenset[CodeFormat]) -> list[str]:
    """Canonical forms of ``typed`` under each accepting format; MalformedCodeError if none."""
    accepted, first_error = set(), None
    for code_format in formats:
        try:
            accepted.add(code_format.parse(typed))
        except MalformedCodeError as exc:
            first_error = first_error or exc
    if accepted:
        return sorted(accepted)
    if first_error is None:
        raise MalformedCodeError("no vouchers are issued yet", reason="length")
    raise first_error


def digests_for(candidates: list[str], vault: CodeVault) -> list[bytes]:
    """Lookup digests of the candidates under every live lookup key."""
    return [digest for candidate in candidates for digest in vault.digests(candidate)]
