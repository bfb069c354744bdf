"""Staff users, API keys and sessions in and out of the ``staff_users``, ``api_keys`` and
``sessions`` tables.

Roles are stored as a sorted JSON list of role names. Uniqueness (usernames, key names,
key ids) is the unique indexes' job; a refused insert becomes DuplicateError.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.access import ApiKey, PrincipalKind, Role, Session, StaffUser
from vouchers.errors import ApiKeyNotFoundError, DuplicateError, UserNotFoundError

_U = schema.staff_users
_K = schema.api_keys
_C = schema.customers
_S = schema.sessions


class SqlSessionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, session: Session) -> None:
        self._c.execute(
            insert(_S).values(
                id_digest=session.id_digest,
                kind=session.kind.value,
                name=session.name,
                customer_id=session.customer_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
            )
        )

    def find(self, id_digest: bytes) -> Session | None:
        row = self._c.execute(select(_S).where(_S.c.id_digest == id_digest)).first()
        if row is None:
            return None
        return Session(
            id_digest=row.id_digest,
            kind=PrincipalKind(row.kind),
            name=row.name,
            customer_id=row.customer_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )

    def revoke(self, id_digest: bytes, *, at: datetime) -> None:
        self._c.execute(
            update(_S)
            .where(_S.c.id_digest == id_digest, _S.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke_all(self, kind: PrincipalKind, name: str, *, at: datetime) -> int:
        done = self._c.execute(
            update(_S)
            .where(
                _S.c.kind == kind.value,
                _S.c.name == name,
                _S.c.revoked_at.is_(None),
                _S.c.expires_at > at,
            )
            .values(revoked_at=at)
        )
        return done.rowcount

    def prune(self, *, before: datetime) -> int:
        return self._c.execute(delete(_S).where(_S.c.expires_at < before)).rowcount


class SqlStaffUserRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, user: StaffUser) -> StaffUser:
        values = _user_values(user)
        values |= {
            "username": user.username,
            "created_at": user.created_at,
            "created_by": user.created_by or "system",
        }
        try:
            with self._c.begin_nested():
                self._c.execute(insert(_U).values(values))
        except IntegrityError as exc:
            raise DuplicateError(f"user {user.username} exists") from exc
        return self.get(user.username)

    def get(self, username: str) -> StaffUser:
        found = self.find(username)
        if found is None:
            raise UserNotFoundError(f"no user {username!r}")
        return found

    def find(self, username: str) -> StaffUser | None:
        row = self._c.execute(select(_U).where(_U.c.username == username)).first()
        return None if row is None else _user(row)

    def update(self, user: StaffUser) -> None:
        self._c.execute(update(_U).where(_U.c.username == user.username).values(_user_values(user)))

    def list(self) -> builtins.list[StaffUser]:
        return [_user(row) for row in self._c.execute(select(_U).order_by(_U.c.username))]


class SqlApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, key: ApiKey) -> ApiKey:
        values = {
            "name": key.name,
            "key_id": key.key_id,
            "secret_digest": key.secret_digest,
            "roles": _role_names(key.roles),
            "customer_id": key.customer_id,
            "created_at": key.created_at,
            "created_by": key.created_by or "system",
        }
        try:
            with self._c.begin_nested():
                self._c.execute(insert(_K).values(values))
        except IntegrityError as exc:
            raise DuplicateError(f"API key {key.name} exists") from exc
        return self.get(key.name)

    def get(self, name: str) -> ApiKey:
        found = self._one(_K.c.name == name)
        if found is None:
            raise ApiKeyNotFoundError(f"no API key {name!r}")
        return found

    def find(self, key_id: str) -> ApiKey | None:
        return self._one(_K.c.key_id == key_id)

    def revoke(self, name: str, *, at: datetime, by: str) -> bool:
        done = self._c.execute(
            update(_K)
            .where(_K.c.name == name, _K.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=by)
        )
        if done.rowcount == 0:
            self.get(name)  # unknown: ApiKeyNotFoundError; else it was revoked already
            return False
        return True

    def list(self) -> builtins.list[ApiKey]:
        return [_key(row) for row in self._c.execute(_keys().order_by(_K.c.name))]

    def _one(self, where: Any) -> ApiKey | None:
        row = self._c.execute(_keys().where(where)).first()
        return None if row is None else _key(row)


def _keys() -> Any:
    """Keys with the external reference of the customer they are confined to."""
    joined = _K.outerjoin(_C, _C.c.id == _K.c.customer_id)
    return select(_K, _C.c.external_ref.label("customer_ref")).select_from(joined)


def _role_names(roles: frozenset[Role]) -> list[str]:
    return sorted(role.value for role in roles)


def _roles(names: Any) -> frozenset[Role]:
    return frozenset(Role(name) for name in names)


def _user_values(user: StaffUser) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "roles": _role_names(user.roles),
        "password_hash": user.password_hash,
        "password_changed_at": user.password_changed_at,
        "active": user.active,
    }


def _user(row: Any) -> StaffUser:
    return StaffUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=_roles(row.roles),
        password_hash=row.password_hash,
        password_changed_at=row.password_changed_at,
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        key_id=row.key_id,
        secret_digest=bytes(row.secret_digest),
        roles=_roles(row.roles),
        customer_id=row.customer_id,
        customer_ref=row.customer_ref,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )
