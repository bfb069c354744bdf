"""Reading console forms: text fields, numbers, dates and "run now or schedule for", and
the errors shown next to the fields they concern.

Domain errors say what is wrong in words, not which form field it was (the domain knows
no forms). ``FormErrors`` keeps one message per field: parsers that read one field put
their error on it; an error of the whole object (``VoucherType(...)`` refusing a
combination) goes to the first field whose words appear in the message, or above the form.
A form with errors is rendered again with status 422 and the values as typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import TypeVar

from starlette.datastructures import FormData

from vouchers.errors import ValidationError, VouchersError

T = TypeVar("T")
FORM = "_form"  # errors that belong to no one field
_CONTROL = dict.fromkeys(range(0x20))  # C0 controls: PostgreSQL refuses NUL in text
_MULTILINE = {k: v for k, v in _CONTROL.items() if k not in (0x09, 0x0A, 0x0D)}


class FormErrors:
    """Error messages by field name; ``keywords`` maps a field to the words that name it in
    domain messages (``{"expires_at": ("expiration",)}``)."""

    def __init__(self, keywords: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.keywords = dict(keywords or {})
        self.messages: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, field: str, message: str) -> None:
        """Keep the first message of ``field``."""
        self.messages.setdefault(field, message)

    def parse(self, field: str, read: Callable[[], T]) -> T | None:
        """``read()``, or None with its ValidationError's message on ``field``."""
        try:
            return read()
        except ValidationError as exc:
            self.add(field, exc.message)
            return None

    def attach(self, error: VouchersError) -> None:
        """Put an error of the whole form on the field its message names, or above it."""
        text = error.message.lower()
        for field, words in self.keywords.items():
            if any(word in text for word in words):
                self.add(field, error.message)
                return
        self.add(FORM, error.message)


def text(form: FormData, name: str, *, max_length: int = 200, multiline: bool = False) -> str:
    """A text field, stripped, control characters dropped; raises ValidationError when
    longer than ``max_length``."""
    raw = form.get(name)
    value = raw if isinstance(raw, str) else ""
    value = value.translate(_MULTILINE if multiline else _CONTROL).strip()
    if len(value) > max_length:
        raise ValidationError(f"at most {max_length} characters")
    return value


def optional(form: FormData, name: str, *, max_length: int = 200) -> str | None:
    """A text field, or None when left empty."""
    return text(form, name, max_length=max_length) or None


def checked(form: FormData, name: str) -> bool:
    """Whether a checkbox was ticked."""
    return form.get(name) not in (None, "", "off", "0")


def whole_number(
    form: FormData, name: str, *, low: int = 1, high: int = 2**62, required: bool = True
) -> int | None:
    """A whole number between ``low`` and ``high``; raises ValidationError."""
    value = text(form, name, max_length=20).replace(",", "").replace("_", "")
    if not value:
        if required:
            raise ValidationError("required")
        return None
    if not value.isascii() or not value.isdigit():
        raise ValidationError(f"{value[:20]!r} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ValidationError(f"must be between {low:,} and {high:,}")
    return number


def query_number(value: str | None) -> int | None:
    """A positive whole number from a query parameter, None if absent or not one."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value) or None


def date(form: FormData, name: str) -> datetime | None:
    """A date (``2027-01-01``, midnight UTC) or a local date and time (UTC), None if empty;
    raises ValidationError."""
    value = text(form, name, max_length=40)
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value[:40]!r} is not a date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def schedule(form: FormData) -> datetime | None:
    """None to run now, or the moment chosen under "schedule for" (UTC); raises
    ValidationError for a missing or unreadable moment."""
    if form.get("when") != "later":
        return None
    moment = date(form, "scheduled_for")
    if moment is None:
        raise ValidationError("choose when the run starts, or run it now")
    return moment
