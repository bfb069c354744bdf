"""Anti-guessing in storage: lock-out checks before a code is looked at, and failure counts.

Counters live in the database, so every API process, console and RADIUS front end shares
them. :func:`refuse_if_locked` runs before a code is parsed or looked up;
:func:`record_failure` runs in its own transaction after a failed redemption (the
redemption's own transaction rolled back) and locks out every subject that reached its
limit. See vouchers.domain.attempts for the policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vouchers.domain.attempts import (
    GLOBAL,
    AttemptKind,
    Limit,
    Lockout,
    Scope,
    Subject,
    next_lockout,
)
from vouchers.domain.settings import OperatorSettings
from vouchers.errors import TooManyAttemptsError
from vouchers.services.ports import Clock, UnitOfWork

_GUESS_LIMITS = {
    Scope.CUSTOMER: "lockout_guesses_per_customer",
    Scope.CALLER: "lockout_guesses_per_caller",
    Scope.ADDRESS: "lockout_guesses_per_address",
}
_TYPO_LIMITS = {Scope.CUSTOMER: "lockout_typos_per_customer"}


def subjects_for(
    customer: str | None, caller: str | None, client_address: str | None
) -> list[Subject]:
    """The counters one attempt touches: its customer, caller and address, and the global one."""
    subjects = [
        Subject(scope, name.strip()[:100])
        for scope, name in (
            (Scope.CUSTOMER, customer),
            (Scope.CALLER, caller),
            (Scope.ADDRESS, client_address),
        )
        if name and name.strip()
    ]
    return [*subjects, GLOBAL]


def refuse_if_locked(uow: UnitOfWork, subjects: list[Subject], now: datetime) -> None:
    """Raise TooManyAttemptsError if any subject is locked out (inside an open unit of work)."""
    check_lockouts(
        uow.attempts.lockouts([s for s in subjects if s.scope is not Scope.GLOBAL], now=now), now
    )


def check_lockouts(locked: list[Lockout], now: datetime) -> None:
    """Raise TooManyAttemptsError, with the longest wait, if any lock-out is running."""
    if locked:
        retry_after = max(lockout.retry_after(now) for lockout in locked)
        raise TooManyAttemptsError(
            f"too many failed codes; try again in {_duration(retry_after)}",
            retry_after=retry_after,
        )


def limit_for(settings: OperatorSettings, scope: Scope, kind: AttemptKind) -> Limit | None:
    """The lock-out limit of a scope for a kind of failure (None: counted, never locks)."""
    names = _GUESS_LIMITS if kind is AttemptKind.GUESS else _TYPO_LIMITS
    if scope not in names:
        return None
    window = timedelta(minutes=settings.number("lockout_window_minutes"))
    return Limit(kind, settings.number(names[scope]), window)


def record_failure(
    kind: AttemptKind,
    subjects: list[Subject],
    *,
    uow: UnitOfWork,
    clock: Clock,
) -> None:
    """Count one failed attempt against every subject; lock out those at their limit.

    Each new lock-out, and the global count of guesses reaching its alert level, is put
    in the outbox as an event for staff.
    """
    now = clock()
    with uow:
        settings = OperatorSettings.from_stored(uow.settings.all())
        uow.attempts.record(kind, subjects, at=now)
        window = timedelta(minutes=settings.number("lockout_window_minutes"))
        for subject in subjects:
            limit = limit_for(settings, subject.scope, kind)
            if subject.scope is Scope.GLOBAL and kind is AttemptKind.GUESS:
                alert_at = settings.number("guess_alert_per_window")
                if uow.attempts.count(subject, kind, since=now - window) == alert_at:
                    uow.events.add("attempts.spike", {"guesses": alert_at}, at=now)
            if limit is None:
                continue
            if uow.attempts.count(subject, kind, since=now - limit.window) >= limit.attempts:
                lockout = next_lockout(subject, limit, now, uow.attempts.last_lockout(subject))
                uow.attempts.lock(lockout)
                uow.events.add(
                    "attempts.locked",
                    {
                        "subject": str(subject),
                        "kind": kind.value,
                        "until": lockout.until.isoformat(),
                        "strikes": lockout.strikes,
                    },
                    at=now,
                )
        uow.commit()


def unlock(subject: Subject, *, uow: UnitOfWork) -> None:
    """Lift a lock-out and forget the subject's failures (support, after checking)."""
    with uow:
        uow.attempts.clear(subject)
        uow.commit()


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{(seconds + 59) // 60} minutes"
    return f"{(seconds + 3599) // 3600} hours"
