"""Redemption under concurrency, on both databases (DESIGN.md §6, "Guarantees").

Many threads hit one code, one wallet or one idempotency key at the same instant (they
meet at a ``threading.Barrier``); each thread has its own pooled connection, so on
PostgreSQL the row locks decide and on SQLite writers queue on the database lock (the
busy timeout). Exactly one redemption must win, the losers must get the precise error,
and the books must still agree.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from support.redeeming import balance, customer, debit, issue, redeem
from vouchers.adapters.db import schema
from vouchers.adapters.db.engine import make_engine
from vouchers.bootstrap import App
from vouchers.domain.voucher_types import PerCustomer, RedemptionRules
from vouchers.errors import (
    AlreadyRedeemedError,
    InsufficientFundsError,
    StorageError,
    VoucherUnavailableError,
    VoucherUsedError,
)
from vouchers.services import ledger

THREADS = 64
IDEMPOTENT_THREADS = 16
JOIN_TIMEOUT_S = 120


@pytest.fixture
def race_app(app: App) -> Iterator[App]:
    """The same app with a pool big enough for one connection per racing thread.

    The default pools (SQLAlchemy's 5 + 10 for SQLite, 10 + 20 for PostgreSQL) would make
    most threads wait for a connection instead of racing on the database.
    """
    engine = make_engine(app.settings.database_url, pool_size=THREADS + 4, max_overflow=0)
    raced = dataclasses.replace(app, engine=engine)
    yield raced
    engine.dispose()


def race(count: int, work: Callable[[int], Any]) -> list[Any | BaseException]:
    """Run ``work(i)`` in ``count`` threads released together; each one's result or error."""
    start = threading.Barrier(count)
    outcomes: list[Any | BaseException] = [None] * count

    def run(index: int) -> None:
        try:
            start.wait(timeout=60)
            outcomes[index] = work(index)
        except BaseException as exc:  # every outcome is checked by the caller
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return outcomes


def describe(errors: list[BaseException]) -> str:
    """A short census of unexpected errors, for assertion messages."""
    census = Counter(f"{type(e).__name__}: {str(e)[:160]}" for e in errors)
    return "; ".join(f"{n}× {text}" for text, n in census.most_common(5))


def count_rows(app: App, table: sa.Table, *where: Any) -> int:
    with app.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(table).where(*where)
            ).scalar_one()
        )


def test_sixty_four_threads_redeeming_one_code_give_exactly_one_success(race_app: App) -> None:
    # Given one activated stored-value voucher (10.00 + 2.50 extra) and 64 customers
    app = race_app
    (code,) = issue(app, "REFILL", 1, value_minor=1000, extra_value_minor=250)
    refs = [f"C{i:02d}" for i in range(THREADS)]
    for ref in refs:
        customer(app, ref)

    # When each of them redeems the code at the same instant
    outcomes = race(THREADS, lambda i: redeem(app, code, refs[i]))

    # Then exactly one wins and every other gets "already used": no other error, no StorageError
    wins = [(i, o) for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    unexpected = [e for e in errors if type(e) is not VoucherUsedError]
    assert not unexpected, describe(unexpected)
    assert not any(isinstance(e, StorageError) for e in errors)
    assert len(wins) == 1, f"{len(wins)} threads redeemed the same voucher"
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, VoucherUnavailableError) for e in errors)
    winner, result = wins[0]
    assert result.voucher_number is not None
    assert result.redemption_id is not None

    # And the books show one redemption, one entry and one credit
    r, e = schema.redemptions, schema.journal_entries
    assert count_rows(app, r, r.c.voucher_number == result.voucher_number) == 1
    assert count_rows(app, r) == 1
    assert count_rows(app, e, e.c.kind == "redemption") == 1
    assert count_rows(app, e) == 1
    assert balance(app, refs[winner]) == (1000, 250)
    assert all(balance(app, ref) == (0, 0) for i, ref in enumerate(refs) if i != winner)
    check = ledger.verify_ledger(uow=app.uow())
    assert check.ok, check


def test_sixty_four_debits_of_thirty_on_a_hundred_leave_ten(race_app: App) -> None:
    # Given a wallet holding 100.00 (paid)
    app = race_app
    (code,) = issue(app, "HUNDRED", 1, value_minor=10_000, extra_value_minor=0)
    customer(app, "C1")
    redeem(app, code, "C1")
    assert balance(app, "C1") == (10_000, 0)

    # When 64 threads each debit 30.00 at the same instant
    outcomes = race(THREADS, lambda _: debit(app, "C1", "30.00"))

    # Then exactly three succeed and the rest are refused for insufficient funds
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    unexpected = [e for e in errors if type(e) is not InsufficientFundsError]
    assert not unexpected, describe(unexpected)
    assert len(wins) == 3
    assert len(errors) == THREADS - 3
    # Each success saw the balance the ones before it left: 70.00, 40.00, 10.00
    assert sorted(w.balance_paid_minor for w in wins) == [1000, 4000, 7000]
    assert len({w.entry_id for w in wins}) == 3
    assert balance(app, "C1") == (1000, 0)
    e = schema.journal_entries
    assert count_rows(app, e, e.c.kind == "debit") == 3
    check = ledger.verify_ledger(uow=app.uow())
    assert check.ok, check


def test_sixteen_threads_with_one_idempotency_key_get_one_redemption(race_app: App) -> None:
    # Given one activated voucher and a customer
    app = race_app
    (code,) = issue(app, "REFILL", 1, value_minor=1000, extra_value_minor=0)
    customer(app, "C1")

    # When 16 threads send the same request with the same idempotency key at once
    outcomes = race(IDEMPOTENT_THREADS, lambda _: redeem(app, code, "C1", idempotency_key="K-1"))

    # Then every one gets the answer of the single redemption; all but one are replays
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, describe(errors)
    assert len({o.redemption_id for o in outcomes}) == 1
    assert [o.replayed for o in outcomes].count(False) == 1
    assert all(o.balance_paid_minor == 1000 for o in outcomes)
    r = schema.redemptions
    assert count_rows(app, r) == 1
    assert count_rows(app, schema.idempotency_keys) == 1
    assert balance(app, "C1") == (1000, 0)
    check = ledger.verify_ledger(uow=app.uow())
    assert check.ok, check


def test_one_customer_redeeming_eight_codes_of_a_once_per_type_type_at_once_wins_once(
    race_app: App,
) -> None:
    # Given eight activated vouchers of a type each customer may redeem only once
    app = race_app
    codes = issue(
        app,
        "ONCE",
        8,
        value_minor=1000,
        extra_value_minor=0,
        rules=RedemptionRules(per_customer=PerCustomer.ONCE_PER_TYPE),
    )
    customer(app, "C1")

    # When the customer redeems all eight at the same instant
    outcomes = race(len(codes), lambda i: redeem(app, codes[i], "C1"))

    # Then exactly one goes through and the others are refused by the rule
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    unexpected = [e for e in errors if type(e) is not AlreadyRedeemedError]
    assert not unexpected, describe(unexpected)
    assert len(wins) == 1
    assert balance(app, "C1") == (1000, 0)


def test_two_first_redemptions_creating_one_new_customer_at_once_both_succeed(
    race_app: App,
) -> None:
    # Given two vouchers and a customer the system has never seen
    app = race_app
    codes = issue(app, "REFILL", 2, value_minor=1000, extra_value_minor=0)

    # When both are redeemed for the new customer at once, creating it on first use
    outcomes = race(2, lambda i: redeem(app, codes[i], "NEW-1", create_customer=True))

    # Then both succeed into the one customer created
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, describe(errors)
    assert balance(app, "NEW-1") == (2000, 0)
