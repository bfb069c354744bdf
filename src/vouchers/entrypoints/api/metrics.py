"""Prometheus metrics at ``/metrics``: requests, latencies, redemptions by result, failed
attempts, and the durations of process runs the embedded worker carried out.

Each app has its own registry (nothing registered at import). With ``vouchers serve
--workers N`` the processes share the numbers through prometheus-client's multiprocess mode:
``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, every process writes
its samples there, and whichever process answers a scrape reads them all.

Redemption results come from the answer to ``POST /api/v1/redemptions``: ``completed`` for
a success, else the problem type's code (``voucher-used``, ``voucher-unknown``,
``too-many-attempts``…); a successful reversal counts as ``reversed``. Failed attempts are
the refused codes among them (unknown, used, expired… codes, malformed codes and lock-outs,
also on ``/redemptions/validate``) plus failed console sign-ins.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

router = APIRouter(tags=["health"])

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
REDEEM_ROUTE = "/api/v1/redemptions"
VALIDATE_ROUTES = frozenset({"/api/v1/redemptions/validate"})
REVERSAL_SUFFIX = "/reversal"
SIGN_IN_ROUTE = "/api/v1/sessions"
# Problem codes that mean "this code was tried and does not work": the anti-guessing view.
ATTEMPT_FAILURES = frozenset(
    {
        "voucher-unavailable",
        "voucher-unknown",
        "voucher-used",
        "voucher-cancelled",
        "voucher-expired",
        "voucher-not-yet-effective",
        "voucher-not-active",
        "malformed-code",
        "too-many-attempts",
    }
)


def multiprocess_dir() -> str | None:
    """The shared directory of multiprocess mode, when ``serve`` runs several workers."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The application's metrics and the one hook the request middleware calls."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vouchers_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vouchers_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.redemptions = Counter(
            "vouchers_redemptions",
            "Redemption requests over HTTP by result: completed, reversed, or the problem code.",
            ["result"],
            registry=self.registry,
        )
        self.failed_attempts = Counter(
            "vouchers_failed_attempts",
            "Refused codes (unknown, used, expired, malformed, locked out) and failed sign-ins.",
            ["reason"],
            registry=self.registry,
        )
        self.run_duration = Histogram(
            "vouchers_run_duration_seconds",
            "Process runs carried out by this server's embedded worker, by process and status.",
            ["process", "status"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )

    def observe(
        self, *, method: str, route: str, status: int, seconds: float, problem: str | None
    ) -> None:
        """Count one answered request (called by the request middleware)."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if method != "POST":
            return
        ok = 200 <= status < 300
        if route == REDEEM_ROUTE:
            self.redemptions.labels("completed" if ok else (problem or str(status))).inc()
        elif route.endswith(REVERSAL_SUFFIX) and route.startswith(REDEEM_ROUTE) and ok:
            self.redemptions.labels("reversed").inc()
        elif route == SIGN_IN_ROUTE and status in (401, 429):
            self.failed_attempts.labels("sign-in").inc()
        if (route == REDEEM_ROUTE or route in VALIDATE_ROUTES) and problem in ATTEMPT_FAILURES:
            self.failed_attempts.labels(problem).inc()

    def observe_run(self, *, process: str, status: str, seconds: float) -> None:
        """Record one process run the embedded worker carried out."""
        self.run_duration.labels(process, status).observe(seconds)

    def exposition(self) -> bytes:
        """Every sample in the Prometheus text format (all workers' in multiprocess mode)."""
        shared = multiprocess_dir()
        if shared is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=shared)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def install(api: Any) -> Metrics:
    """Put a fresh set of metrics on ``api.state.metrics``."""
    metrics = Metrics()
    api.state.metrics = metrics
    return metrics


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text exposition of this server's metrics."""
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
