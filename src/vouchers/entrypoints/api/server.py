"""What ``vouchers serve`` runs: the ASGI app factory uvicorn imports in every worker
process, and the process-run worker embedded in the server.

``vouchers serve`` (and ``vouchers demo``) hand uvicorn the import string
``vouchers.entrypoints.api.server:asgi_app`` with ``factory=True``; each worker process
calls :func:`asgi_app`, which reads the settings from the environment the command set,
bootstraps without migrating (the command migrated once, before the workers started),
configures JSON logging and builds the API. The database connections are released when
the server shuts down.

The embedded worker is a daemon thread that runs the same loop as ``vouchers worker``
(``services.runs.work``: settle dead workers' runs, then carry out due runs, then wait a few
seconds), unless ``VOUCHERS_EMBEDDED_WORKER=0`` because separate ``vouchers worker``
processes do it. Several processes claiming runs is safe: a run is claimed with one
conditional update. On shutdown the thread is told to stop and joined; a run in progress
finishes first (runs are resumable, so a kill would lose nothing either).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from fastapi import FastAPI

from vouchers.bootstrap import App, bootstrap, local_worker_alive, worker_identity
from vouchers.config import Settings
from vouchers.entrypoints.api.app import create_app
from vouchers.entrypoints.api.logging import configure_logging
from vouchers.entrypoints.api.metrics import Metrics
from vouchers.services import runs

log = logging.getLogger("vouchers.worker")
POLL_SECONDS = 3.0
RESTART_SECONDS = 10.0  # after an unexpected error in the loop (a database restart, say)


class EmbeddedWorker:
    """The process-run worker as a background thread of the server."""

    def __init__(self, app: App, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.metrics: Metrics | None = None

    def start(self, api: FastAPI) -> None:
        """Start the thread (called by the app's lifespan)."""
        self.metrics = getattr(api.state, "metrics", None)
        self.stopping.clear()
        self.thread = threading.Thread(target=self._loop, name="vouchers-worker", daemon=True)
        self.thread.start()
        log.info("embedded run worker started (%s)", worker_identity())

    def stop(self) -> None:
        """Ask the loop to stop and wait for it (a run in progress finishes first)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None
            log.info("embedded run worker stopped")

    def _loop(self) -> None:
        context = self._context()
        while not self.stopping.is_set():
            try:
                runs.recover_runs(
                    uow=self.app.uow(), clock=self.app.clock, alive=local_worker_alive
                )
                while not self.stopping.is_set() and self._carry_out_one(context):
                    pass
            except Exception:  # the loop must outlive a database hiccup
                log.exception("embedded run worker failed; retrying in %ss", RESTART_SECONDS)
                self.stopping.wait(RESTART_SECONDS)
                continue
            self.stopping.wait(self.poll_seconds)

    def _carry_out_one(self, context: runs.RunContext) -> bool:
        """Carry out the most overdue run, if any; False when nothing is due."""
        started = time.perf_counter()
        run = runs.run_due(uow=self.app.uow(), context=context)
        if run is None:
            return False
        seconds = time.perf_counter() - started
        log.info("run %s (%s) %s in %.2f s", run.id, run.process, run.status, seconds)
        if self.metrics is not None:
            self.metrics.observe_run(
                process=str(run.process), status=str(run.status), seconds=seconds
            )
        return True

    def _context(self) -> runs.RunContext:
        return runs.RunContext(
            clock=self.app.clock,
            vault=self.app.vault,
            worker=worker_identity(),
            four_eyes=self.app.settings.four_eyes,
            files=self.app.export_files(),
            environ=self.app.environ,
        )


class _Closer:
    """Releases the app's database connections when the server stops."""

    def __init__(self, app: App) -> None:
        self.app = app

    def start(self, api: FastAPI) -> None:
        """Nothing to do at start."""

    def stop(self) -> None:
        """Dispose of the engine."""
        self.app.close()


def build(app: App, *, embedded_worker: bool | None = None, owns_app: bool = False) -> FastAPI:
    """The API on ``app``, with the embedded worker unless the settings turn it off."""
    background: list[Any] = []
    worker = app.settings.embedded_worker if embedded_worker is None else embedded_worker
    if worker:
        background.append(EmbeddedWorker(app))
    if owns_app:
        background.append(_Closer(app))
    return create_app(app, background=background)


def asgi_app() -> FastAPI:
    """The uvicorn factory: settings from the environment, JSON logs, the API."""
    configure_logging(os.environ.get("VOUCHERS_LOG_LEVEL", "INFO").upper())
    settings = Settings.from_env()
    return build(bootstrap(settings, migrate=False), owns_app=True)
