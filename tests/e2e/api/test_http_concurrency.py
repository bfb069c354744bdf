"""Concurrent HTTP redemptions of one code, on both databases: exactly one 2xx.

In process: one FastAPI app and one TestClient, 64 threads released together by a
barrier, each POSTing the same code for its own customer. The app's engine gets a pool
with a connection per thread so the threads race on the database, not on the pool.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from support.redeeming import customer, issue
from vouchers.adapters.db import schema
from vouchers.adapters.db.engine import make_engine
from vouchers.bootstrap import App
from vouchers.entrypoints.api.app import create_app

THREADS = 64
JOIN_TIMEOUT_S = 300  # SQLite queues 64 writers on one lock (busy timeout): be generous


@pytest.fixture
def race_app(app: App) -> Iterator[App]:
    """The app with a pool big enough for one connection per racing thread."""
    engine = make_engine(app.settings.database_url, pool_size=THREADS + 4, max_overflow=0)
    raced = dataclasses.replace(app, engine=engine)
    yield raced
    engine.dispose()


def test_sixty_four_concurrent_http_redemptions_of_one_code_give_exactly_one_2xx(
    race_app: App, keys: dict[str, dict[str, str]]
) -> None:
    # Given one CRM code and 64 customers
    (code,) = issue(race_app, "CRM", 1, name="All Services", value_minor=3000)
    for index in range(THREADS):
        customer(race_app, f"R{index}")
    start = threading.Barrier(THREADS)
    outcomes: list[Any] = [None] * THREADS

    with TestClient(create_app(race_app), raise_server_exceptions=False) as client:

        def run(index: int) -> None:
            try:
                start.wait(timeout=60)
                response = client.post(
                    "/api/v1/redemptions",
                    json={"code": code, "customer": f"R{index}"},
                    headers=keys["integration"],
                )
                outcomes[index] = (response.status_code, response.json().get("type"))
            except BaseException as exc:  # every outcome is checked below
                outcomes[index] = exc

        # When 64 threads post the same code at the same instant
        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT_S)
        assert not any(t.is_alive() for t in threads), "a request hung"

    # Then exactly one is 2xx and every other one hears the voucher is used
    census = Counter(o if isinstance(o, tuple) else repr(o) for o in outcomes)
    assert census == {(201, None): 1, (422, "/problems/voucher-used"): THREADS - 1}, census
    with race_app.engine.connect() as connection:
        redeemed = connection.execute(
            sa.select(sa.func.count()).select_from(schema.redemptions)
        ).scalar_one()
    assert redeemed == 1
