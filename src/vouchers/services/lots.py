"""Use cases for lots: create a draft lot, and generate its vouchers.

Generation writes vouchers in chunks, each in its own transaction together with the
lot's generated count, so a crash loses at most the chunk in flight and the next run
continues where the last committed chunk ended. The lot becomes ``posted`` in the same
transaction as its last chunk: a lot that looks posted is always complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from vouchers.domain.lots import Lot, new_lot
from vouchers.domain.vouchers import VoucherState, code_tail
from vouchers.errors import CodeSpaceExhaustedError
from vouchers.services.ports import Clock, CodeVault, NewVouchers, Progress, UnitOfWork

GENERATION_CHUNK = 50_000
MAX_COLLISION_ROUNDS = 20
# A format may be filled to this fraction of its space; beyond it, collisions make
# generation slow and guessing easy.
MAX_SPACE_FILL = 0.01


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
            code = f"{voucher_type.alternative_code}-{uow.counters.allocate('lot', 1):06d}"
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
        _ensure_code_space(lot, voucher_type.code_format.space, lot.count)
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


def generate_lot(
    ref: int | str,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    progress: Progress | None = None,
    chunk_size: int = GENERATION_CHUNK,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> Lot:
    """Generate every remaining voucher of a draft lot, then post it.

    ``randbytes`` is the random source (the operating system's CSPRNG; tests may pass a
    deterministic one).

    Raises InvalidTransitionError for a posted lot, CodeSpaceExhaustedError when the
    format cannot hold more distinct codes.
    """
    with uow:
        lot = uow.lots.get(ref)
        lot.ensure_generatable()
        voucher_type = uow.voucher_types.get(lot.type_id)
    code_format = lot.code_format(voucher_type)
    state = VoucherState.ACTIVATED if voucher_type.auto_activate else VoucherState.DRAFT
    lot_id = lot.id
    assert lot_id is not None
    while True:
        with uow:
            lot = uow.lots.get(lot_id, for_update=True)
            lot.ensure_generatable()
            size = min(chunk_size, lot.remaining)
            now = clock()
            first = uow.counters.allocate("voucher", size) if size else 0
            codes = code_format.generate(size, randbytes)
            offsets = list(range(size))
            for _ in range(MAX_COLLISION_ROUNDS):
                refused = _insert(uow, vault, lot, state, first, codes, offsets, now)
                if not refused:
                    break
                fresh = iter(code_format.generate(len(refused), randbytes))
                codes = list(codes)
                for offset in refused:
                    codes[offset] = next(fresh)
                offsets = refused
            else:
                raise CodeSpaceExhaustedError(
                    f"lot {lot.alternative_code}: too many codes of this format already exist"
                )
            done = lot.generated_count + size
            posted_at = now if done == lot.count else None
            uow.lots.record_generated(lot_id, size, posted_at=posted_at)
            uow.commit()
        if progress is not None:
            progress(done, lot.count)
        if posted_at is not None:
            break
    return get_lot(lot_id, uow=uow)


def _insert(
    uow: UnitOfWork,
    vault: CodeVault,
    lot: Lot,
    state: VoucherState,
    first: int,
    codes: list[str],
    offsets: list[int],
    now: datetime,
) -> list[int]:
    """Insert the codes at ``offsets``; return the offsets refused as duplicates."""
    if len(offsets) == len(codes):
        batches = [(first, codes, offsets)]
    else:  # retrying a few refused rows: each keeps its own number
        batches = [(first + offset, [codes[offset]], [offset]) for offset in offsets]
    refused: list[int] = []
    for number, batch, batch_offsets in batches:
        digests, ciphertexts = vault.seal_many(number, batch)
        rejected = uow.vouchers.add_generated(
            NewVouchers(
                lot=lot,
                first_number=number,
                state=state,
                digests=digests,
                ciphertexts=ciphertexts,
                tails=[code_tail(code) for code in batch],
                lookup_key_id=vault.lookup_key_id,
                data_key_id=vault.data_key_id,
                created_at=now,
            )
        )
        refused.extend(batch_offsets[i] for i in rejected)
    return refused


def _ensure_code_space(lot: Lot, space: int, adding: int) -> None:
    if adding > space * MAX_SPACE_FILL:
        raise CodeSpaceExhaustedError(
            f"lot {lot.alternative_code}: {adding:,} codes would fill more than "
            f"{MAX_SPACE_FILL:.0%} of a code space of {space:,}; use longer codes"
        )
