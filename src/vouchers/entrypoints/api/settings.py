"""Routes for operator settings: read them all (``settings.read``: admin, auditor), change
one (``settings.write``: admin), and the recent changes with who, when, old and new.

Per-currency settings are keyed ``name.CUR`` (``PUT /settings/minimum_amount.EUR`` with
``{"value": "10.00"}``); ``null`` or ``"none"`` restores the default. A bad key or value is
a 422 problem and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from vouchers.domain.access import Permission, Principal, authorize
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import PRINTABLE
from vouchers.services import settings as service

router = APIRouter(tags=["settings"])


class SettingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)] | None


def change_public(change: dict[str, Any]) -> dict[str, Any]:
    """A setting change; ``old`` or ``new`` null means the default."""
    at = change["at"]
    return {
        "key": change["key"],
        "old": change["old"],
        "new": change["new"],
        "at": at.isoformat() if isinstance(at, datetime) else at,
        "by": change["by"],
    }


@router.get("/settings")
def show_settings(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.SETTINGS_READ))],
) -> dict[str, str | None]:
    """Every setting with its effective value (defaults included)."""
    authorize(principal, Permission.SETTINGS_READ)
    return service.show_settings(uow=app.uow())


@router.get("/settings/changes")
def list_setting_changes(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.SETTINGS_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The most recent setting changes, newest first."""
    authorize(principal, Permission.SETTINGS_READ)
    return {
        "items": [change_public(c) for c in service.setting_changes(uow=app.uow(), limit=limit)]
    }


@router.put("/settings/{key}")
def set_setting(
    key: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_.]+$")],
    body: SettingUpdate,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.SETTINGS_WRITE))],
) -> dict[str, Any]:
    """Validate and store one setting; the change (old and new value) is the answer."""
    authorize(principal, Permission.SETTINGS_WRITE)
    change = service.set_setting(
        key,
        "none" if body.value is None else body.value,
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
    )
    return change_public(change)
