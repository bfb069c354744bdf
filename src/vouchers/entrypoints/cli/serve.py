"""``vouchers serve``: the HTTP API under uvicorn, with the process-run worker embedded.

The command migrates an empty database once, then hands uvicorn the app factory
``vouchers.entrypoints.api.server:asgi_app`` by import string (the CLI never imports the
API package: entry points stay independent), after writing its settings into the
environment every worker process reads. With ``--workers`` above one, the processes share
their Prometheus samples through a temporary multiprocess directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
import uvicorn

from vouchers.config import Settings
from vouchers.entrypoints.cli.context import console, handled, state

FACTORY = "vouchers.entrypoints.api.server:asgi_app"

Host = Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")]
Port = Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")]
Workers = Annotated[int, typer.Option(min=1, max=64, help="Server processes.")]


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
) -> None:
    """Serve the HTTP API (and carry out due process runs unless VOUCHERS_EMBEDDED_WORKER=0)."""
    cli = state(ctx)
    with handled(as_json=False):
        cli.app()  # migrates an empty database, once, before any worker starts
    run_server(cli.settings, host=host, port=port, workers=workers)


def run_server(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """Run uvicorn on ``settings`` until interrupted."""
    worker_note = "with the embedded run worker" if settings.embedded_worker else "no run worker"
    console.print(
        f"serving http://{host}:{port} ({workers} process(es), {worker_note}); "
        "API under /api/v1, OpenAPI at /api/v1/openapi.json, Ctrl-C stops",
        highlight=False,
    )
    with _environment(settings), _metrics_directory(workers):
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers if workers > 1 else None,
            log_config=None,  # the factory configures JSON logs in every process
            access_log=False,  # ours masks codes; uvicorn's would not
            server_header=False,
            timeout_graceful_shutdown=30,
        )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment variables that rebuild ``settings`` in a worker process."""
    flag = {True: "1", False: "0"}
    return {
        "VOUCHERS_HOME": str(settings.home),
        "VOUCHERS_DATABASE_URL": settings.database_url,
        "VOUCHERS_USER": settings.actor,
        "VOUCHERS_FOUR_EYES": flag[settings.four_eyes],
        "VOUCHERS_EMBEDDED_WORKER": flag[settings.embedded_worker],
        "VOUCHERS_SECURE_COOKIES": flag[settings.secure_cookies],
        "VOUCHERS_SESSION_HOURS": str(settings.session_hours),
    }


@contextmanager
def _environment(settings: Settings) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in settings_environment(settings)}
    os.environ.update(settings_environment(settings))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="vouchers-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)
