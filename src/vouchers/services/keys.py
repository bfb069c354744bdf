"""Key rotation: re-seal every secret under the vault's current keys.

Rotation runs in batches, each its own transaction, so the system keeps serving: a
voucher is readable under its old keys until its batch commits, and lookups try every
live lookup key meanwhile. Running it again after an interruption continues where it
stopped; when it returns, no row refers to an old key and old keys may be retired.
"""

from __future__ import annotations

from vouchers.services.ports import CodeVault, Progress, UnitOfWork

ROTATION_BATCH = 5_000


def rotate_keys(
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    progress: Progress | None = None,
    batch_size: int = ROTATION_BATCH,
) -> int:
    """Re-seal every secret not yet under the current keys; return how many were re-sealed.

    Raises KeyMaterialError if a stored ciphertext does not decrypt (nothing of that batch
    is written).
    """
    done = 0
    after = 0
    while True:
        with uow:
            batch = uow.vouchers.secrets_not_under(
                vault.lookup_key_id, vault.data_key_id, after=after, limit=batch_size
            )
            if not batch:
                break
            rows = []
            for secret in batch:
                code = vault.open(secret.number, secret.ciphertext, secret.data_key_id)
                rows.append(
                    (
                        secret.number,
                        vault.digest(code),
                        vault.lookup_key_id,
                        vault.seal(secret.number, code),
                        vault.data_key_id,
                    )
                )
            uow.vouchers.reseal(rows)
            uow.commit()
        done += len(batch)
        after = batch[-1].number
        if progress is not None:
            progress(done, done)
    return done
