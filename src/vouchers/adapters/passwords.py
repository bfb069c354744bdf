"""Staff passwords hashed with Argon2id (argon2-cffi), the ``PasswordHasher`` port.

The defaults are argon2-cffi's (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes): tens
to hundreds of milliseconds a hash. Hashes carry their parameters, so raising them later
only makes ``needs_rehash`` true for old hashes, which are replaced at the next sign-in.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    """Argon2id with the given cost (tests pass a tiny one; production keeps the default)."""

    def __init__(
        self,
        *,
        time_cost: int = argon2.DEFAULT_TIME_COST,
        memory_cost: int = argon2.DEFAULT_MEMORY_COST,
        parallelism: int = argon2.DEFAULT_PARALLELISM,
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    @classmethod
    def for_tests(cls) -> Argon2Hasher:
        """The real algorithm at the lowest cost argon2 accepts: fast, and never for storage."""
        return cls(time_cost=1, memory_cost=8, parallelism=1)
