"""Routes for types (filled in by the API issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["types"])
