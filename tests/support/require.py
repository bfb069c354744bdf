"""Skip a test for a missing external resource, or fail it when everything is required."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL_ENV = "VOUCHERS_REQUIRE_ALL"


def require_all() -> bool:
    """True when the environment demands every external resource (CI sets this)."""
    return os.environ.get(REQUIRE_ALL_ENV) == "1"


def require_or_skip(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead when ``VOUCHERS_REQUIRE_ALL=1``."""
    if require_all():
        pytest.fail(f"required but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)
