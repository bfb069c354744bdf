"""Routes for wallets (filled in by the API issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["wallets"])
