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
    │   ├── MalformedCodeError          a typed code that cannot be one of ours (a typo)
    │   └── ImportRefusedError          rows of an import file were refused; nothing imported
    ├── NotFoundError                   a named thing does not exist
    │   ├── VoucherTypeNotFoundError
    │   ├── LotNotFoundError
    │   ├── VoucherNotFoundError
    │   ├── DefinitionNotFoundError
    │   ├── RunNotFoundError
    │   ├── CustomerNotFoundError
    │   ├── RedemptionNotFoundError
    │   ├── UserNotFoundError
    │   └── ApiKeyNotFoundError
    ├── ConflictError                   the change collides with existing data
    │   ├── DuplicateError              a unique name or alternative code is taken
    │   ├── CodeSpaceExhaustedError     a format cannot hold that many more distinct codes
    │   ├── IdempotencyKeyReusedError   an idempotency key came back with a different request
    │   └── InsufficientFundsError      a wallet does not hold the amount to take out of it
    ├── InvalidTransitionError          a process may not move a voucher or lot from its state
    │   └── ReversalRefusedError        a redemption is already reversed or out of its window
    ├── VoucherUnavailableError         a typed code cannot be redeemed (customers see one message)
    │   ├── VoucherUnknownError         no voucher has the code (counts as a guess)
    │   ├── VoucherUsedError
    │   ├── VoucherCancelledError
    │   ├── VoucherExpiredError
    │   ├── VoucherNotYetEffectiveError
    │   └── VoucherNotActiveError       draft, accepted, rejected or purged
    ├── RedemptionRefusedError          a redemption rule says no; nothing moved
    │   ├── CurrencyMismatchError
    │   ├── AmountOutOfRangeError       outside the settings' minimum and maximum
    │   ├── MinimumActivationError      the top-up is below the type's minimum activation
    │   ├── ProductNotSupportedError
    │   ├── AlreadyRedeemedError        one redemption per customer (per type or lot)
    │   ├── FirstTopUpOnlyError
    │   ├── KycRequiredError
    │   └── CustomerBlockedError
    ├── TooManyAttemptsError            locked out after too many failed codes; has retry_after
    ├── AuthenticationError             credentials wrong, unknown, inactive or revoked
    ├── PermissionDeniedError           the acting user may not do this
    │   └── FourEyesError               the maker of a lot tried to check it too
    ├── KeyMaterialError                secret keys are missing, malformed or cannot decrypt
    └── StorageError                    the database failed for a reason that is not the caller's
"""

from __future__ import annotations

from collections.abc import Mapping


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


class ImportRefusedError(ValidationError):
    """Raised when rows of an import file were refused and so nothing was imported.

    ``report`` is the import report as plain data (rows, imported, every refused row by
    line, reason and message; never a code), for the caller to fix the file.
    """

    code = "import-refused"

    def __init__(self, message: str, *, report: Mapping[str, object]) -> None:
        super().__init__(message)
        self.report = dict(report)


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


class CustomerNotFoundError(NotFoundError):
    """Raised when no customer has the given id or external reference."""

    code = "customer-not-found"


class RedemptionNotFoundError(NotFoundError):
    """Raised when no redemption has the given id."""

    code = "redemption-not-found"


class UserNotFoundError(NotFoundError):
    """Raised when no staff user has the given username (never while signing in)."""

    code = "user-not-found"


class ApiKeyNotFoundError(NotFoundError):
    """Raised when no API key has the given name (never while authenticating a key)."""

    code = "api-key-not-found"


class ConflictError(VouchersError):
    """Raised when a change collides with existing data."""

    code = "conflict"


class DuplicateError(ConflictError):
    """Raised when a unique name or alternative code is already taken."""

    code = "duplicate"


class CodeSpaceExhaustedError(ConflictError):
    """Raised when a code format cannot hold the requested number of further distinct codes."""

    code = "code-space-exhausted"


class IdempotencyKeyReusedError(ConflictError):
    """Raised when an idempotency key is sent again with a request that differs from its first."""

    code = "idempotency-key-reused"


class InsufficientFundsError(ConflictError):
    """Raised when a debit or reversal would take a wallet balance below zero."""

    code = "insufficient-funds"


class InvalidTransitionError(VouchersError):
    """Raised when a process may not move a voucher or lot out of its current state."""

    code = "invalid-transition"


class ReversalRefusedError(InvalidTransitionError):
    """Raised when a redemption is already reversed, or its reversal window has closed."""

    code = "reversal-refused"


class VoucherUnavailableError(VouchersError):
    """Raised when a typed code cannot be redeemed now.

    Staff and integrations see the subclass and its message; customers see only
    ``customer_message``, the same for every subclass, so a guesser learns nothing.
    """

    code = "voucher-unavailable"
    customer_message = "This code is not valid or can no longer be used."


class VoucherUnknownError(VoucherUnavailableError):
    """Raised when no voucher has the typed code; it counts as a guess."""

    code = "voucher-unknown"


class VoucherUsedError(VoucherUnavailableError):
    """Raised when the voucher was already redeemed."""

    code = "voucher-used"


class VoucherCancelledError(VoucherUnavailableError):
    """Raised when the voucher was cancelled."""

    code = "voucher-cancelled"


class VoucherExpiredError(VoucherUnavailableError):
    """Raised when the voucher is past its expiration date."""

    code = "voucher-expired"


class VoucherNotYetEffectiveError(VoucherUnavailableError):
    """Raised when the voucher's effective date is still to come."""

    code = "voucher-not-yet-effective"


class VoucherNotActiveError(VoucherUnavailableError):
    """Raised when the voucher is draft, accepted, rejected or purged."""

    code = "voucher-not-active"


class RedemptionRefusedError(VouchersError):
    """Raised when a redemption rule refuses the request; nothing moved."""

    code = "redemption-refused"


class CurrencyMismatchError(RedemptionRefusedError):
    """Raised when the request's currency is not the voucher's."""

    code = "currency-mismatch"


class AmountOutOfRangeError(RedemptionRefusedError):
    """Raised when the amount is below the settings' minimum or above their maximum."""

    code = "amount-out-of-range"


class MinimumActivationError(RedemptionRefusedError):
    """Raised when a top-up is below the bonus voucher's minimum activation."""

    code = "minimum-activation"


class ProductNotSupportedError(RedemptionRefusedError):
    """Raised when the product is missing or outside the type's supported products."""

    code = "product-not-supported"


class AlreadyRedeemedError(RedemptionRefusedError):
    """Raised when the customer already redeemed a voucher of this type (or lot)."""

    code = "already-redeemed"


class FirstTopUpOnlyError(RedemptionRefusedError):
    """Raised when a first-top-up-only voucher meets a customer who has topped up before."""

    code = "first-top-up-only"


class KycRequiredError(RedemptionRefusedError):
    """Raised when the type requires a KYC-verified customer and this one is not."""

    code = "kyc-required"


class CustomerBlockedError(RedemptionRefusedError):
    """Raised when a blocked customer tries to redeem or spend."""

    code = "customer-blocked"


class TooManyAttemptsError(VouchersError):
    """Raised when failed attempts locked the customer, caller or address out.

    ``retry_after`` is the number of seconds until the lock-out ends; even a correct code
    is refused until then.
    """

    code = "too-many-attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(VouchersError):
    """Raised when credentials do not prove who the caller is: a wrong password, an unknown
    or inactive user, a malformed, unknown or revoked API key.

    The message is the same for every reason of one kind of credential, so a caller learns
    nothing about which usernames or keys exist. It is its own branch, not a
    PermissionDeniedError: "who are you?" (HTTP 401) is not "you may not" (HTTP 403).
    """

    code = "unauthenticated"


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
