"""Use cases for operator settings: read them all, change one (recorded with who and when)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vouchers.domain.settings import OperatorSettings, normalise
from vouchers.errors import ValidationError
from vouchers.services.ports import Clock, UnitOfWork


def load_settings(uow: UnitOfWork) -> OperatorSettings:
    """The settings as stored, inside an open unit of work."""
    return OperatorSettings.from_stored(uow.settings.all())


def show_settings(*, uow: UnitOfWork) -> dict[str, str | None]:
    """Every setting with its effective value (defaults included)."""
    with uow:
        return load_settings(uow).effective()


def set_setting(
    key: str, value: str, *, uow: UnitOfWork, clock: Clock, actor: str
) -> dict[str, Any]:
    """Validate and store one setting (``none`` restores the default); return the change.

    Raises ValidationError for an unknown key or a bad value; nothing is stored then.
    """
    stored_key, stored_value = normalise(key, value)
    at = clock()
    with uow:
        current = load_settings(uow)
        check_consistent(
            OperatorSettings.from_stored(_with(current.values, stored_key, stored_value)),
            stored_key,
        )
        old = uow.settings.set(stored_key, stored_value, at=at, by=actor)
        uow.commit()
    return {"key": stored_key, "old": old, "new": stored_value, "at": at, "by": actor}


def _with(values: Mapping[str, str], key: str, value: str | None) -> dict[str, str]:
    changed = {k: v for k, v in values.items() if k != key}
    if value is not None:
        changed[key] = value
    return changed


def check_consistent(settings: OperatorSettings, key: str) -> None:
    """Refuse a change that would make the minimum amount of a currency exceed its maximum."""
    name, _, code = key.partition(".")
    if name not in {"minimum_amount", "maximum_amount"}:
        return
    limits = settings.limits(code)
    if (
        limits.minimum_minor is not None
        and limits.maximum_minor is not None
        and limits.minimum_minor > limits.maximum_minor
    ):
        low, high = settings.text(f"minimum_amount.{code}"), settings.text(f"maximum_amount.{code}")
        raise ValidationError(
            f"the minimum amount of {code} would exceed its maximum ({low} > {high})"
        )


def setting_changes(*, uow: UnitOfWork, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent setting changes, newest first."""
    with uow:
        return uow.settings.changes(limit=limit)
