"""Use cases for operator settings: read them all, change one (recorded with who and when)."""

from __future__ import annotations

from typing import Any

from vouchers.domain.settings import OperatorSettings, normalise
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
        old = uow.settings.set(stored_key, stored_value, at=at, by=actor)
        uow.commit()
    return {"key": stored_key, "old": old, "new": stored_value, "at": at, "by": actor}


def setting_changes(*, uow: UnitOfWork, limit: int = 50) -> list[dict[str, Any]]:
    """The most recent setting changes, newest first."""
    with uow:
        return uow.settings.changes(limit=limit)
