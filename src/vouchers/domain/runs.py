"""Process runs: one execution of a bulk process, now or at a scheduled time.

A run records what was asked (process and criteria), when, by whom, and how it went:
``scheduled`` → ``running`` → ``completed`` or ``failed``; a scheduled run may be
``cancelled`` before a worker claims it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from vouchers.errors import InvalidTransitionError


class RunStatus(StrEnum):
    """Where a run is in its own small life cycle."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ProcessRun:
    """One execution of a bulk process; see the module docstring."""

    process: str
    criteria: dict[str, Any]
    status: RunStatus
    scheduled_for: datetime
    requested_by: str
    requested_at: datetime
    id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    done: int = 0
    total: int | None = None
    count: int | None = None
    error: str | None = None

    def ensure_cancellable(self) -> None:
        """Raises InvalidTransitionError unless the run is still waiting for a worker."""
        if self.status is not RunStatus.SCHEDULED:
            raise InvalidTransitionError(
                f"run {self.id} is {self.status}; only a scheduled run can be cancelled"
            )
