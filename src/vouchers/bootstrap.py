"""The composition root: builds the engine, keys, clock and units of work from settings.

Entry points call ``bootstrap(settings)`` once and pass what it returns to services;
nothing connects to a database at import time.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from vouchers.adapters.db.engine import make_engine, storage_errors
from vouchers.adapters.db.migrate import current_revision, ensure_schema, head_revision, upgrade
from vouchers.adapters.db.unit_of_work import SqlUnitOfWork
from vouchers.adapters.exports import ExportFileStore
from vouchers.adapters.keys import CodeVault, KeyRing, key_file_path, load_keyring, save_keyring
from vouchers.adapters.passwords import Argon2Hasher
from vouchers.config import Settings
from vouchers.services.codebook import CodeBook
from vouchers.services.ports import Clock, PasswordHasher

MAX_WORKERS = 4
WORKER_MODULES = ("vouchers.services.lots", "vouchers.adapters.keys")


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


@dataclass
class App:
    """Everything a service call needs, built once per process."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    clock: Clock = field(default=utc_now)
    codebook: CodeBook = field(default_factory=CodeBook)  # code formats in use, cached
    passwords: PasswordHasher = field(default_factory=Argon2Hasher)  # staff passwords
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    def uow(self) -> SqlUnitOfWork:
        """A fresh unit of work on this app's database."""
        return SqlUnitOfWork(self.engine)

    @property
    def vault(self) -> CodeVault:
        """The code vault under the current key ring."""
        return CodeVault(self.keyring)

    def export_files(self) -> ExportFileStore:
        """The export directory: ``exports`` in the data directory."""
        return ExportFileStore(self.settings.home / "exports")

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    @contextmanager
    def worker_pool(self) -> Iterator[Executor]:
        """Worker processes for CPU-heavy service work (sealing codes), one core left free.

        Workers come from a fork server that has loaded only the service code they run,
        so they never inherit database connections or this process's memory; they start
        on first use, so a pool that is never used costs nothing.
        """
        workers = max(1, min(MAX_WORKERS, (os.cpu_count() or 2) - 1))
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_MODULES))
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield pool


def bootstrap(
    settings: Settings,
    *,
    migrate: bool = True,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
) -> App:
    """Build the app; migrate an empty database to head unless ``migrate`` is false.

    Raises StorageError if the database is behind this version, KeyMaterialError if the
    keys are unreadable.
    """
    env = os.environ if environ is None else environ
    with storage_errors(settings.database_url):
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        if migrate:
            ensure_schema(engine)
    keyring = load_keyring(settings.home, env)
    return App(settings=settings, engine=engine, keyring=keyring, clock=clock, environ=env)


def worker_identity() -> str:
    """This process as a run worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def local_worker_alive(identity: str) -> bool | None:
    """Whether the worker ``host:pid`` still runs: known only for workers on this host."""
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_key_rotation(app: App) -> CodeVault:
    """Make new current keys (key file) or take the environment's current ones.

    With a key file, one new lookup key and one new data key are written to it (old keys
    kept, so everything stays readable); with environment keys, the operator has already
    listed the new keys first. Returns the vault that re-seals under the current keys.
    """
    if app.keyring.source != "environment":
        path = key_file_path(app.settings.home, os.environ)
        app.keyring = app.keyring.with_new_keys()
        save_keyring(path, app.keyring)
    return app.vault


def finish_key_rotation(app: App) -> None:
    """Drop the old keys from the key file once nothing refers to them."""
    if app.keyring.source != "environment":
        app.keyring = app.keyring.only_current()
        save_keyring(key_file_path(app.settings.home, os.environ), app.keyring)


def upgrade_database(settings: Settings) -> dict[str, str | None]:
    """Apply every migration; return the revision reached."""
    with storage_errors(settings.database_url):
        engine = make_engine(settings.database_url)
        try:
            upgrade(engine)
            return {"current": current_revision(engine), "head": head_revision()}
        finally:
            engine.dispose()


def database_status(settings: Settings) -> dict[str, str | None]:
    """The database's revision and this version's head, without changing anything."""
    with storage_errors(settings.database_url):
        engine = make_engine(settings.database_url)
        try:
            return {"current": current_revision(engine), "head": head_revision()}
        finally:
            engine.dispose()
