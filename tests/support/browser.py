"""Headless Chromium for browser tests, and a live ``vouchers`` server it can reach.

Chromium comes from Debian's package (``/usr/bin/chromium``, installed by ``.ci/run``);
Playwright drives it through ``executable_path`` (Playwright's own browser download does
not work here). ``VOUCHERS_CHROMIUM`` names another binary. The live server is uvicorn in
a thread of the test process, on a free port of 127.0.0.1, over the test's ``App``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

CHROMIUM_ENV = "VOUCHERS_CHROMIUM"
SCREENSHOTS_ENV = "VOUCHERS_SCREENSHOTS"
REPOSITORY = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when the machine has none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot_dir() -> Path:
    """Where tests save page screenshots (``build/screenshots`` unless configured); the best
    are copied into ``docs/screenshots`` by hand."""
    directory = Path(os.environ.get(SCREENSHOTS_ENV, REPOSITORY / "build" / "screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(api: FastAPI) -> Iterator[str]:
    """Serve ``api`` on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
