"""Use cases for business definitions: create, list, show, activate, deactivate.

Activating one definition deactivates the active one in the same transaction, so there is
never a moment with two (a partial unique index is the backstop).
"""

from __future__ import annotations

from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.services.ports import Clock, UnitOfWork


def create_definition(
    definition: BusinessDefinition, *, uow: UnitOfWork, clock: Clock, actor: str, activate: bool
) -> BusinessDefinition:
    """Store a definition (and make it the active one if asked); raises DuplicateError."""
    with uow:
        saved = uow.definitions.add(definition, at=clock(), by=actor)
        if activate:
            uow.definitions.set_active(saved.id)
            saved = uow.definitions.get(saved.alternative_code)
        uow.commit()
    return saved


def activate_definition(ref: int | str, *, uow: UnitOfWork) -> BusinessDefinition:
    """Make this definition the only active one; raises DefinitionNotFoundError."""
    with uow:
        definition = uow.definitions.get(ref)
        uow.definitions.set_active(definition.id)
        uow.commit()
        return uow.definitions.get(definition.alternative_code)


def deactivate_definitions(*, uow: UnitOfWork) -> None:
    """Leave no definition active: every process addresses its default states."""
    with uow:
        uow.definitions.set_active(None)
        uow.commit()


def get_definition(ref: int | str, *, uow: UnitOfWork) -> BusinessDefinition:
    """A definition by id or alternative code; raises DefinitionNotFoundError."""
    with uow:
        return uow.definitions.get(ref)


def list_definitions(*, uow: UnitOfWork) -> list[BusinessDefinition]:
    """Every definition, oldest first."""
    with uow:
        return uow.definitions.all()


def active_definition(*, uow: UnitOfWork) -> BusinessDefinition | None:
    """The definition in force, None when every process addresses its default states."""
    with uow:
        return uow.definitions.active()
