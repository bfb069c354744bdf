"""Liveness and readiness: ``/healthz`` says the process answers, ``/readyz`` that the
database is reachable and at this version's migration."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vouchers.bootstrap import database_status
from vouchers.entrypoints.api.deps import AppDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(app: AppDep) -> JSONResponse:
    """The database answers and is migrated to head (503 otherwise)."""
    try:
        status = database_status(app.settings)
    except Exception as exc:  # readiness reports every failure, it never raises
        return JSONResponse({"status": "unavailable", "reason": str(exc)[:200]}, status_code=503)
    ready = status["current"] == status["head"]
    body = {"status": "ok" if ready else "unavailable", **status}
    return JSONResponse(body, status_code=200 if ready else 503)
