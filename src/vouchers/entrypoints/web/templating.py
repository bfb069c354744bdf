"""The one Jinja2 environment every page renders with, and the static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_PREFIX = "/static"

templates = Jinja2Templates(directory=HERE / "templates")


def mount_static(api: FastAPI) -> None:
    """Serve ``web/static`` (the stylesheet, htmx) under ``/static``."""
    api.mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="static")
