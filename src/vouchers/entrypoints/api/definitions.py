"""Business definitions: which states each restrictable process may address; at most one
is active."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from vouchers.domain.access import Permission, Principal
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import (
    PRINTABLE,
    DefinitionCreate,
    DefinitionPublic,
    parse_ref,
)
from vouchers.services import definitions as service

router = APIRouter(prefix="/definitions", tags=["business definitions"])

Reader = Annotated[Principal, Depends(require(Permission.DEFINITIONS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.DEFINITIONS_WRITE))]
DefinitionRef = Annotated[
    str, Path(min_length=1, max_length=32, pattern=PRINTABLE, description="Alternative code or id.")
]


@router.get("")
def list_definitions(app: AppDep, _: Reader) -> list[DefinitionPublic]:
    """Every definition, oldest first."""
    return [DefinitionPublic.of(d) for d in service.list_definitions(uow=app.uow())]


@router.post("", status_code=201)
def create_definition(body: DefinitionCreate, app: AppDep, principal: Writer) -> DefinitionPublic:
    """Create a definition (and make it the active one with ``activate``)."""
    saved = service.create_definition(
        body.to_domain(),
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
        activate=body.activate,
    )
    return DefinitionPublic.of(saved)


@router.post("/deactivate", status_code=204)
def deactivate_definitions(app: AppDep, _: Writer) -> None:
    """Leave no definition active: every process addresses its default states."""
    service.deactivate_definitions(uow=app.uow())


@router.get("/{ref}")
def get_definition(ref: DefinitionRef, app: AppDep, _: Reader) -> DefinitionPublic:
    """One definition by alternative code or id."""
    return DefinitionPublic.of(service.get_definition(parse_ref(ref), uow=app.uow()))


@router.post("/{ref}/activate")
def activate_definition(ref: DefinitionRef, app: AppDep, _: Writer) -> DefinitionPublic:
    """Make this definition the active one (the previous one stops applying)."""
    return DefinitionPublic.of(service.activate_definition(parse_ref(ref), uow=app.uow()))
