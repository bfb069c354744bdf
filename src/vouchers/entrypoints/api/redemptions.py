"""Routes for redemptions (filled in by the API issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["redemptions"])
