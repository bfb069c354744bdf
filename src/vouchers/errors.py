"""Every error Vouchers raises on purpose, in one tree.

Entry points translate these, and only these, into exit codes, HTTP problem documents,
page messages and RADIUS rejects; adapters translate driver errors into them. Each class
says when it is raised. Every class has a stable ``code`` (used as the problem ``type``
suffix and in ``--json`` output)::

    VouchersError
    ├── ValidationError                 bad input; nothing was changed
    │   ├── CurrencyError               unknown ISO 4217 code
    │   ├── AmountError                 unparsable amount, or more decimals than the currency has
    │   ├── CodeFormatError             an invalid alphabet, length, grouping or check method
    │   │   └── WeakCodeFormatError     a format under the entropy floor without allow_weak
    │   └── MalformedCodeError          a typed code that cannot be one of ours (a typo)
    ├── NotFoundError                   a named thing does not exist
    │   ├── VoucherTypeNotFoundError
    │   ├── LotNotFoundError
    │   ├── VoucherNotFoundError
    │   ├── DefinitionNotFoundError
    │   └── RunNotFoundError
    ├── ConflictError                   the change collides with existing data
    │   ├── DuplicateError              a unique name or alternative code is taken
    │   └── CodeSpaceExhaustedError     a format cannot hold that many more distinct codes
    ├── InvalidTransitionError          a process may not move a voucher or lot from its state
    ├── PermissionDeniedError           the acting user may not do this
    │   └── FourEyesError               the maker of a lot tried to check it too
    ├── KeyMaterialError                secret keys are missing, malformed or cannot decrypt
    └── StorageError                    the database failed for a reason that is not the caller's
"""

from __future__ import annotations


class VouchersError(Exception):
    """Base of every error raised on purpose by Vouchers."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(VouchersError):
    """Raised when input is invalid; nothing was changed."""

    code = "validation"


class CurrencyError(ValidationError):
    """Raised for a currency code that is not in the ISO 4217 table."""

    code = "currency"


class AmountError(ValidationError):
    """Raised for an amount that cannot be parsed, or has more decimals than its currency."""

    code = "amount"


class CodeFormatError(ValidationError):
    """Raised for an invalid code format: alphabet, length, prefix, grouping or check method."""

    code = "code-format"


class WeakCodeFormatError(CodeFormatError):
    """Raised for a code format under the entropy floor when ``allow_weak`` was not given."""

    code = "weak-code-format"


class MalformedCodeError(ValidationError):
    """Raised when a typed code cannot be one of ours: wrong length, alphabet or check character.

    ``reason`` is one of ``length``, ``alphabet``, ``prefix`` or ``check``.
    """

    code = "malformed-code"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFoundError(VouchersError):
    """Raised when a named thing does not exist."""

    code = "not-found"


class VoucherTypeNotFoundError(NotFoundError):
    """Raised when no voucher type has the given id or alternative code."""

    code = "voucher-type-not-found"


class LotNotFoundError(NotFoundError):
    """Raised when no lot has the given id or alternative code."""

    code = "lot-not-found"


class VoucherNotFoundError(NotFoundError):
    """Raised when no voucher has the given number (or code, for staff lookups)."""

    code = "voucher-not-found"


class DefinitionNotFoundError(NotFoundError):
    """Raised when no business definition has the given id or alternative code."""

    code = "definition-not-found"


class RunNotFoundError(NotFoundError):
    """Raised when no process run has the given number."""

    code = "run-not-found"


class ConflictError(VouchersError):
    """Raised when a change collides with existing data."""

    code = "conflict"


class DuplicateError(ConflictError):
    """Raised when a unique name or alternative code is already taken."""

    code = "duplicate"


class CodeSpaceExhaustedError(ConflictError):
    """Raised when a code format cannot hold the requested number of further distinct codes."""

    code = "code-space-exhausted"


class InvalidTransitionError(VouchersError):
    """Raised when a process may not move a voucher or lot out of its current state."""

    code = "invalid-transition"


class PermissionDeniedError(VouchersError):
    """Raised when the acting user may not perform the action."""

    code = "forbidden"


class FourEyesError(PermissionDeniedError):
    """Raised when the user who generated a lot tries to accept or activate it (four-eyes)."""

    code = "four-eyes"


class KeyMaterialError(VouchersError):
    """Raised when secret keys are missing or malformed, or a ciphertext does not decrypt."""

    code = "key-material"


class StorageError(VouchersError):
    """Raised when the database fails for a reason that is not the caller's."""

    code = "storage"
