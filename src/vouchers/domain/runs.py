"""Process runs: one execution of a bulk process, now or at a scheduled time.

A run records what was asked (process and criteria), when, by whom, and how it went:
``scheduled`` → ``running`` → ``completed`` or ``failed``; a scheduled run may be
``cancelled`` before a worker claims it. A run that needs a second person's approval (an
export of secrets under the four-eyes setting) starts ``awaiting`` and becomes
``scheduled`` once someone other than its requester approves it. A run that writes a
file (an export) records where the file is and when it is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from vouchers.errors import FourEyesError, InvalidTransitionError


class RunStatus(StrEnum):
    """Where a run is in its own small life cycle."""

    AWAITING = "awaiting"  # approval
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
    approved_by: str | None = None
    approved_at: datetime | None = None
    result_file: str | None = None
    file_expires_at: datetime | None = None

    def ensure_cancellable(self) -> None:
        """Raises InvalidTransitionError unless the run still waits (for approval or a
        worker)."""
        if self.status not in {RunStatus.SCHEDULED, RunStatus.AWAITING}:
            raise InvalidTransitionError(
                f"run {self.id} is {self.status}; only a scheduled run can be cancelled"
            )

    def ensure_approvable(self, approver: str) -> None:
        """Raises InvalidTransitionError unless the run awaits approval, FourEyesError when
        its requester tries to approve it."""
        if self.status is not RunStatus.AWAITING:
            raise InvalidTransitionError(f"run {self.id} is {self.status}; nothing to approve")
        if approver == self.requested_by:
            raise FourEyesError(
                f"{approver} requested run {self.id}; another finance user must approve it"
            )
