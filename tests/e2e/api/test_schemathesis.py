"""Schemathesis against the OpenAPI document: generated requests to every operation, as an
admin, on SQLite; no answer is a 5xx and every documented answer matches its schema.

Bounded for CI: ``VOUCHERS_SCHEMATHESIS_EXAMPLES`` examples an operation (default 12), no
Hypothesis deadline (the first request of a process warms caches), no example database.
Run deeper with ``VOUCHERS_SCHEMATHESIS_EXAMPLES=200``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.api.app import create_app
from vouchers.services import access, customers

EXAMPLES = int(os.environ.get("VOUCHERS_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def api_schema(tmp_path: Path) -> Any:
    """The API on a fresh SQLite database, with an admin key and a customer to act on."""
    home = tmp_path
    settings_ = Settings.from_env(
        {}, home=home / "home", database_url=f"sqlite:///{home}/vouchers.db", actor="t"
    )
    app = bootstrap(settings_, environ={})
    issued = access.create_api_key(
        "fuzz", roles=["admin"], uow=app.uow(), clock=app.clock, actor="setup"
    )
    customers.create_customer("C1", uow=app.uow(), clock=app.clock, actor="setup")
    api = create_app(app)
    api.state.fuzz_headers = {"Authorization": f"Bearer {issued.key}"}
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", api)


def test_every_operation_answers_within_its_schema(api_schema: Any) -> None:
    headers = dict(api_schema.app.state.fuzz_headers)
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except (Exception, ExceptionGroup) as exc:  # report every operation, not the first
            failures.append(f"{operation.label}: {str(exc)[:2000]}")

    assert not failures, "\n\n".join(failures)
