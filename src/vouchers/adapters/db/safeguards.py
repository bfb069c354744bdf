"""Small tables that guard the money paths: idempotency keys, settings with their change
log, failed attempts with lock-outs, and the event outbox."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.attempts import AttemptKind, Lockout, Subject
from vouchers.errors import DuplicateError
from vouchers.services.ports import StoredResult

_I = schema.idempotency_keys
_S = schema.settings
_SC = schema.setting_changes
_A = schema.failed_attempts
_L = schema.lockouts
_EV = schema.events


class SqlIdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, caller: str, key: str) -> StoredResult | None:
        row = self._c.execute(select(_I).where(_I.c.caller == caller, _I.c.key == key)).first()
        if row is None:
            return None
        return StoredResult(row.operation, row.request_hash, dict(row.result))

    def add(self, caller: str, key: str, stored: StoredResult, *, at: datetime) -> None:
        values = {
            "caller": caller,
            "key": key,
            "operation": stored.operation,
            "request_hash": stored.request_hash,
            "result": stored.result,
            "created_at": at,
        }
        try:
            self._c.execute(insert(_I).values(values))
        except IntegrityError as exc:
            raise DuplicateError(f"idempotency key {key!r} was taken meanwhile") from exc


class SqlSettingRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def all(self) -> dict[str, str]:
        return {row.key: row.value for row in self._c.execute(select(_S.c.key, _S.c.value))}

    def set(self, key: str, value: str | None, *, at: datetime, by: str) -> str | None:
        old = self._c.execute(select(_S.c.value).where(_S.c.key == key)).scalar_one_or_none()
        if value is None:
            self._c.execute(delete(_S).where(_S.c.key == key))
        elif old is None:
            self._c.execute(insert(_S).values(key=key, value=value, updated_at=at, updated_by=by))
        else:
            self._c.execute(
                update(_S).where(_S.c.key == key).values(value=value, updated_at=at, updated_by=by)
            )
        self._c.execute(insert(_SC).values(key=key, old_value=old, new_value=value, at=at, by=by))
        return old

    def changes(self, *, limit: int = 50) -> builtins.list[dict[str, Any]]:
        query = select(_SC).order_by(_SC.c.id.desc()).limit(limit)
        return [
            {"key": r.key, "old": r.old_value, "new": r.new_value, "at": r.at, "by": r.by}
            for r in self._c.execute(query)
        ]


class SqlAttemptRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record(self, kind: AttemptKind, subjects: Sequence[Subject], *, at: datetime) -> None:
        self._c.execute(
            insert(_A),
            [
                {"kind": kind.value, "scope": s.scope.value, "subject": s.name, "at": at}
                for s in subjects
            ],
        )

    def count(self, subject: Subject, kind: AttemptKind, *, since: datetime) -> int:
        query = select(func.count()).where(
            _A.c.scope == subject.scope.value,
            _A.c.subject == subject.name,
            _A.c.kind == kind.value,
            _A.c.at > since,
        )
        return int(self._c.execute(query).scalar_one())

    def lockouts(self, subjects: Sequence[Subject], *, now: datetime) -> builtins.list[Lockout]:
        if not subjects:
            return []
        by_key = {(s.scope.value, s.name): s for s in subjects}
        query = select(_L.c.scope, _L.c.subject, _L.c.until, _L.c.strikes).where(
            or_(*(and_(_L.c.scope == scope, _L.c.subject == name) for scope, name in by_key)),
            _L.c.until > now,
        )
        return [
            Lockout(by_key[(row.scope, row.subject)], row.until, row.strikes)
            for row in self._c.execute(query)
        ]

    def last_lockout(self, subject: Subject) -> Lockout | None:
        row = self._c.execute(
            select(_L.c.until, _L.c.strikes).where(
                _L.c.scope == subject.scope.value, _L.c.subject == subject.name
            )
        ).first()
        return None if row is None else Lockout(subject, row.until, row.strikes)

    def lock(self, lockout: Lockout) -> None:
        key = (_L.c.scope == lockout.subject.scope.value, _L.c.subject == lockout.subject.name)
        changed = self._c.execute(
            update(_L).where(*key).values(until=lockout.until, strikes=lockout.strikes)
        ).rowcount
        if not changed:
            self._c.execute(
                insert(_L).values(
                    scope=lockout.subject.scope.value,
                    subject=lockout.subject.name,
                    until=lockout.until,
                    strikes=lockout.strikes,
                )
            )

    def clear(self, subject: Subject) -> None:
        self._c.execute(
            delete(_L).where(_L.c.scope == subject.scope.value, _L.c.subject == subject.name)
        )
        self._c.execute(
            delete(_A).where(_A.c.scope == subject.scope.value, _A.c.subject == subject.name)
        )

    def prune(self, *, before: datetime) -> int:
        return int(self._c.execute(delete(_A).where(_A.c.at < before)).rowcount)


class SqlEventRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, event_type: str, payload: dict[str, Any], *, at: datetime) -> None:
        self._c.execute(insert(_EV).values(type=event_type, payload=payload, created_at=at))

    def recent(
        self, *, event_type: str | None = None, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        query = select(_EV).order_by(_EV.c.id.desc()).limit(limit)
        if event_type is not None:
            query = query.where(_EV.c.type == event_type)
        return [
            {"id": r.id, "type": r.type, "payload": r.payload, "created_at": r.created_at}
            for r in self._c.execute(query)
        ]
