"""The SQL repository of process runs, including how a worker claims a due run.

On PostgreSQL a worker claims with ``SELECT … FOR UPDATE SKIP LOCKED``, so any number of
workers share the queue without waiting on each other; on SQLite the write transaction
(``BEGIN IMMEDIATE``) already admits one claimer at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from vouchers.adapters.db import schema
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.errors import RunNotFoundError

_R = schema.process_runs


class SqlRunRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, run: ProcessRun) -> ProcessRun:
        values = {
            "process": run.process,
            "criteria": run.criteria,
            "status": run.status.value,
            "scheduled_for": run.scheduled_for,
            "requested_by": run.requested_by,
            "requested_at": run.requested_at,
            "done": 0,
            "approved_by": run.approved_by,
            "approved_at": run.approved_at,
        }
        new_id = self._c.execute(insert(_R).values(values).returning(_R.c.id)).scalar_one()
        return self.get(int(new_id))

    def get(self, run_id: int) -> ProcessRun:
        row = self._c.execute(select(_R).where(_R.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(f"no process run {run_id}")
        return _from_row(row)

    def claim(self, run_id: int | None, *, now: datetime, worker: str) -> ProcessRun | None:
        """Mark one scheduled run (this one, or the most overdue) running for ``worker``."""
        query = select(_R.c.id).where(_R.c.status == RunStatus.SCHEDULED.value)
        if run_id is None:
            query = query.where(_R.c.scheduled_for <= now)
            query = query.order_by(_R.c.scheduled_for, _R.c.id).limit(1)
        else:
            query = query.where(_R.c.id == run_id)
        if self._c.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = self._c.execute(query).scalar()
        if found is None:
            return None
        self._c.execute(
            update(_R)
            .where(_R.c.id == found)
            .values(
                status=RunStatus.RUNNING.value,
                worker=worker,
                started_at=now,
                heartbeat_at=now,
                error=None,
            )
        )
        return self.get(int(found))

    def update(self, run_id: int, **values: Any) -> None:
        if "status" in values:
            values["status"] = RunStatus(values["status"]).value
        self._c.execute(update(_R).where(_R.c.id == run_id).values(values))

    def running(self) -> list[ProcessRun]:
        rows = self._c.execute(select(_R).where(_R.c.status == RunStatus.RUNNING.value))
        return [_from_row(row) for row in rows]

    def history_rows(self, run_id: int) -> int:
        h, e = schema.voucher_history, schema.export_ranges
        rows = select(func.count()).select_from(h).where(h.c.run_id == run_id)
        exported = select(func.coalesce(func.sum(e.c.last_number - e.c.first_number + 1), 0))
        exported = exported.where(e.c.run_id == run_id)
        both = select(rows.scalar_subquery() + exported.scalar_subquery())
        return int(self._c.execute(both).scalar_one())

    def with_expired_files(self, now: datetime) -> list[ProcessRun]:
        query = select(_R).where(_R.c.result_file.is_not(None), _R.c.file_expires_at <= now)
        return [_from_row(row) for row in self._c.execute(query.order_by(_R.c.id))]

    def recent(self, *, limit: int = 50, before: int | None = None) -> list[ProcessRun]:
        query = select(_R).order_by(_R.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(_R.c.id < before)
        rows = self._c.execute(query)
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> ProcessRun:
    return ProcessRun(
        id=row.id,
        process=row.process,
        criteria=dict(row.criteria),
        status=RunStatus(row.status),
        scheduled_for=row.scheduled_for,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        worker=row.worker,
        done=row.done,
        total=row.total,
        count=row._mapping["count"],
        error=row.error,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        result_file=row.result_file,
        file_expires_at=row.file_expires_at,
    )
