"""Anti-guessing: failed code attempts, counted in sliding windows, and lock-outs.

Two kinds of failure are told apart without touching the voucher table for the first:
a *typo* (the check character or the shape is wrong, so the text cannot be any code) is
counted leniently; a *guess* (well formed, but no voucher has it) is counted strictly.
Guesses are counted per customer, per caller (API key or session), per client address
and globally. When a subject reaches its limit inside the window it is locked out, even
for a correct code, and each further lock-out within a day lasts twice as long as the
one before (back-off), up to a day. The global count never locks anyone out — that would
let one attacker lock out every customer — it raises an alert instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_LOCKOUT = timedelta(days=1)
STRIKE_MEMORY = timedelta(days=1)


class AttemptKind(StrEnum):
    GUESS = "guess"
    TYPO = "typo"


class Scope(StrEnum):
    """Who a failed attempt is counted against."""

    CUSTOMER = "customer"
    CALLER = "caller"
    ADDRESS = "address"
    GLOBAL = "global"


@dataclass(frozen=True)
class Subject:
    """One counter: a scope and who in it (``*`` for the global one)."""

    scope: Scope
    name: str

    def __str__(self) -> str:
        return f"{self.scope}:{self.name}"


GLOBAL = Subject(Scope.GLOBAL, "*")


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` failures of ``kind`` per ``window`` for one subject."""

    kind: AttemptKind
    attempts: int
    window: timedelta


@dataclass(frozen=True)
class Lockout:
    """A subject refused until ``until``; ``strikes`` counts its lock-outs within a day."""

    subject: Subject
    until: datetime
    strikes: int

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock-out ends (at least 1 while it lasts)."""
        return max(1, int((self.until - now).total_seconds() + 0.999))


def next_lockout(
    subject: Subject, limit: Limit, now: datetime, previous: Lockout | None
) -> Lockout:
    """The lock-out a subject earns by reaching ``limit`` now: the window, doubled for each
    lock-out it earned in the last day, at most a day long."""
    strikes = 1
    if previous is not None and now - previous.until < STRIKE_MEMORY:
        strikes = previous.strikes + 1
    doublings = min(strikes - 1, 32)  # past a day the cap applies anyway; no overflow
    duration = min(limit.window * 2**doublings, MAX_LOCKOUT)
    return Lockout(subject, now + duration, strikes)
