"""Use cases for lots: create a draft lot, and generate its vouchers.

Generation writes vouchers in chunks, each in its own transaction together with the
lot's generated count, so a crash loses at most the chunk in flight and the next run
continues where the last committed chunk ended. The lot becomes ``posted`` in the same
transaction as its last chunk: a lot that looks posted is always complete. Chunks keep
the database's write lock short, so redemptions on SQLite wait at most one chunk.

Drawing and sealing codes (CSPRNG, HMAC, AES-GCM) is CPU work that needs no database: with
an executor it runs in worker processes, a few chunks ahead of the writer.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, overload

from vouchers.domain.codes import CodeFormat
from vouchers.domain.lots import Lot, new_lot
from vouchers.domain.settings import OperatorSettings
from vouchers.domain.vouchers import VoucherState, code_tail
from vouchers.errors import CodeSpaceExhaustedError, ConflictError
from vouchers.services.ports import Clock, CodeVault, NewVouchers, Progress, UnitOfWork

GENERATION_CHUNK = 100_000
# Chunks sealed ahead of the one being written, when an executor seals in parallel.
_PIPELINE_DEPTH = 2
MAX_COLLISION_ROUNDS = 20
# A type's lots together may fill this fraction of its code space; beyond it, collisions
# make generation slow and guessing easy.
MAX_SPACE_FILL = 0.01
# Default lot codes are "<type code>-<sequence>" and must fit the 32-character limit.
_TYPE_CODE_IN_LOT_CODE = 25


def create_lot(
    type_ref: int | str,
    *,
    count: int,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    alternative_code: str | None = None,
    value_minor: int | None = None,
    extra_value_minor: int | None = None,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    validity_days: int | None = None,
    prefix: str | None = None,
    description: str = "",
) -> Lot:
    """A new draft lot of a voucher type; raises ValidationError, DuplicateError, NotFound."""
    with uow:
        voucher_type = uow.voucher_types.get(type_ref)
        code = alternative_code
        if code is None:
            sequence = uow.counters.allocate("lot", 1)
            code = f"{voucher_type.alternative_code[:_TYPE_CODE_IN_LOT_CODE]}-{sequence:06d}"
        if validity_days is None and expires_at is None and voucher_type.validity_days is None:
            # The type sets no validity: the operator's default expiry period applies.
            validity_days = OperatorSettings.from_stored(uow.settings.all()).number(
                "default_expiry_days"
            )
        lot = new_lot(
            voucher_type,
            alternative_code=code.strip().upper(),
            count=count,
            now=clock(),
            value_minor=value_minor,
            extra_value_minor=extra_value_minor,
            effective_at=effective_at,
            expires_at=expires_at,
            validity_days=validity_days,
            prefix=prefix,
            description=description,
            created_by=actor,
        )
        issued = uow.lots.total_count(type_id=lot.type_id)
        _ensure_code_space(lot, voucher_type.code_format.space, issued + lot.count)
        saved = uow.lots.add(lot)
        uow.commit()
    return saved


def get_lot(ref: int | str, *, uow: UnitOfWork) -> Lot:
    """A lot by id or alternative code; raises LotNotFoundError."""
    with uow:
        return uow.lots.get(ref)


def list_lots(*, uow: UnitOfWork, type_ref: int | str | None = None) -> list[Lot]:
    """Lots, newest first, optionally of one type."""
    with uow:
        type_id = None if type_ref is None else uow.voucher_types.get(type_ref).id
        return uow.lots.list(type_id=type_id)


def amend_lot(ref: int | str, *, count: int, uow: UnitOfWork, clock: Clock, actor: str) -> Lot:
    """Add ``count`` vouchers to a posted lot; generation then writes them (see docstring).

    The lot turns draft again until the added vouchers exist, with a block of numbers of
    its own. Raises InvalidTransitionError unless the lot is posted, ValidationError for a
    bad count, CodeSpaceExhaustedError when the type's code space would fill.
    """
    with uow:
        lot = uow.lots.get(ref, for_update=True)
        amended = lot.amended(count)
        voucher_type = uow.voucher_types.get(lot.type_id)
        issued = uow.lots.total_count(type_id=lot.type_id)
        _ensure_code_space(lot, voucher_type.code_format.space, issued + count)
        uow.lots.amend(amended)
        uow.commit()
    return get_lot(lot.require_id(), uow=uow)


def generate_lot(
    ref: int | str,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    progress: Progress | None = None,
    chunk_size: int = GENERATION_CHUNK,
    executor: Executor | None = None,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> Lot:
    """Generate every remaining voucher of a draft lot, then post it.

    Codes are drawn and sealed chunk by chunk; with an ``executor`` (a process pool) the
    next chunks are sealed in other processes while this one writes the current chunk.
    ``randbytes`` is the random source: the operating system's CSPRNG (tests may pass a
    deterministic one, without an executor). Raises InvalidTransitionError for a posted
    lot, ConflictError if another generation of the lot runs at the same time, and
    CodeSpaceExhaustedError when the format cannot hold more distinct codes.
    """
    plan = _start_generation(ref, uow=uow, actor=actor)
    starts = range(plan.generated_count, plan.count, chunk_size)
    submit = executor.submit if executor is not None and len(starts) > 1 else _run_now

    def sealed(start: int) -> Future[SealedChunk]:
        size = min(chunk_size, plan.count - start)
        number = plan.first_number + start
        return submit(seal_chunk, plan.code_format, vault, number, size, randbytes)

    upcoming = iter(starts)
    pending = deque(sealed(start) for start in itertools.islice(upcoming, _PIPELINE_DEPTH))
    for start in starts:
        chunk = pending.popleft().result()
        following = next(upcoming, None)
        if following is not None:
            pending.append(sealed(following))
        _write_chunk(uow, vault, plan, start, chunk, clock(), randbytes)
        if progress is not None:
            progress(start + chunk.size, plan.count)
    return get_lot(plan.lot_id, uow=uow)


@dataclass(frozen=True)
class _GenerationPlan:
    lot_id: int
    count: int
    generated_count: int
    first_number: int
    code_format: CodeFormat
    state: VoucherState


@dataclass(frozen=True)
class SealedChunk:
    """Vouchers numbered from ``first_number``, sealed and ready to write.

    Digests, ciphertexts and tails travel packed end to end (every code of a format has
    the same length, so each part has a fixed width): a chunk crosses from a worker
    process as three objects instead of three per voucher.
    """

    first_number: int
    size: int
    packed_digests: bytes
    packed_ciphertexts: bytes
    packed_tails: str

    @property
    def digests(self) -> Sequence[bytes]:
        return FixedWidth(self.packed_digests, self.size)

    @property
    def ciphertexts(self) -> Sequence[bytes]:
        return FixedWidth(self.packed_ciphertexts, self.size)

    @property
    def tails(self) -> Sequence[str]:
        return FixedWidth(self.packed_tails, self.size)


_Item = TypeVar("_Item", bytes, str)


class FixedWidth(Sequence[_Item]):
    """A read-only sequence over ``count`` equal-width items packed end to end.

    Items are sliced out only when asked for, so writing a chunk row by row never holds
    a hundred thousand small objects at once.
    """

    def __init__(self, packed: _Item, count: int) -> None:
        self._packed: _Item = packed
        self._count = count
        self._width = len(packed) // count if count else 0

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> _Item: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[_Item]: ...

    def __getitem__(self, index: int | slice) -> _Item | Sequence[_Item]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        start = index * self._width
        item: _Item = self._packed[start : start + self._width]
        return item

    def __iter__(self) -> Iterator[_Item]:
        width, packed = self._width, self._packed
        return (packed[start : start + width] for start in range(0, len(packed), width))


def seal_chunk(
    code_format: CodeFormat,
    vault: CodeVault,
    first_number: int,
    size: int,
    randbytes: Callable[[int], bytes],
) -> SealedChunk:
    """Draw ``size`` codes and seal them; pure CPU work, safe to run in another process."""
    codes = code_format.generate(size, randbytes)
    digests, ciphertexts = vault.seal_many(first_number, codes)
    return SealedChunk(
        first_number,
        size,
        b"".join(digests),
        b"".join(ciphertexts),
        "".join(code_tail(code) for code in codes),
    )


def _start_generation(ref: int | str, *, uow: UnitOfWork, actor: str) -> _GenerationPlan:
    """Check the lot may be generated and reserve its block of numbers on the first run."""
    with uow:
        lot = uow.lots.get(ref, for_update=True)
        lot.ensure_generatable()
        lot_id = lot.require_id()
        voucher_type = uow.voucher_types.get(lot.type_id)
        first = lot.first_number
        if first is None:
            first = uow.counters.allocate("voucher", lot.count - lot.block_start)
            uow.lots.assign_numbers(lot_id, first, by=actor)
            uow.commit()
    return _GenerationPlan(
        lot_id=lot_id,
        count=lot.count,
        generated_count=lot.generated_count,
        first_number=first - lot.block_start,  # the number voucher 0 would have in this block
        code_format=lot.code_format(voucher_type),
        state=VoucherState.ACTIVATED if voucher_type.auto_activate else VoucherState.DRAFT,
    )


def _write_chunk(
    uow: UnitOfWork,
    vault: CodeVault,
    plan: _GenerationPlan,
    start: int,
    chunk: SealedChunk,
    now: datetime,
    randbytes: Callable[[int], bytes],
) -> None:
    """Write one chunk and advance the lot in one transaction; redraw colliding codes."""
    code_format, state = plan.code_format, plan.state
    with uow:
        lot = uow.lots.get(plan.lot_id, for_update=True)
        lot.ensure_generatable()
        if lot.generated_count != start:
            raise ConflictError(f"lot {lot.alternative_code} is being generated by another run")
        refused = uow.vouchers.add_generated(_new_vouchers(lot, chunk, state, vault, now))
        numbers = [chunk.first_number + offset for offset in refused]
        # A refused row keeps its number and gets a fresh code, until none collides.
        for _ in range(MAX_COLLISION_ROUNDS):
            if not numbers:
                break
            numbers = [
                number
                for number in numbers
                if uow.vouchers.add_generated(
                    _new_vouchers(
                        lot, seal_chunk(code_format, vault, number, 1, randbytes), state, vault, now
                    )
                )
            ]
        if numbers:
            raise CodeSpaceExhaustedError(
                f"lot {lot.alternative_code}: too many codes of this format already exist"
            )
        size = chunk.size
        done = start + size == lot.count
        uow.lots.record_generated(plan.lot_id, size, posted_at=now if done else None)
        uow.commit()


def _new_vouchers(
    lot: Lot, chunk: SealedChunk, state: VoucherState, vault: CodeVault, now: datetime
) -> NewVouchers:
    return NewVouchers(
        lot=lot,
        first_number=chunk.first_number,
        state=state,
        digests=chunk.digests,
        ciphertexts=chunk.ciphertexts,
        tails=chunk.tails,
        lookup_key_id=vault.lookup_key_id,
        data_key_id=vault.data_key_id,
        created_at=now,
    )


def _run_now(function: Callable[..., SealedChunk], *args: object) -> Future[SealedChunk]:
    future: Future[SealedChunk] = Future()
    future.set_result(function(*args))
    return future


def _ensure_code_space(lot: Lot, space: int, total: int) -> None:
    """Refuse a lot that would take its type's codes past ``MAX_SPACE_FILL`` of the space."""
    if total > space * MAX_SPACE_FILL:
        raise CodeSpaceExhaustedError(
            f"lot {lot.alternative_code}: {total:,} codes of this type would fill more than "
            f"{MAX_SPACE_FILL:.0%} of a code space of {space:,}; use longer codes"
        )
