"""A throwaway PostgreSQL cluster for the test suite, or an existing server named by URL.

``PostgresServer.start()`` runs ``initdb`` and ``pg_ctl`` from the machine's server binaries
into a fresh directory under /tmp (or ``$VOUCHERS_TEST_POSTGRES_DIR``: a tmpfs such as /dev/shm
makes CREATE DATABASE many times faster), on a free port, tuned for speed over durability.
PostgreSQL refuses to run as root, so when we are root the server binaries run as
``nobody`` (which owns the directory); client tools (``pg_dump``) run as we are and
connect over TCP as the ``postgres`` superuser (trust authentication).

``PostgresServer.external(url)`` wraps a server someone else runs (``VOUCHERS_TEST_POSTGRES_URL``);
databases are created and dropped through it, and ``stop()`` leaves it alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

EXTERNAL_URL_ENV = "VOUCHERS_TEST_POSTGRES_URL"
BIN_DIR_ENV = "VOUCHERS_POSTGRES_BIN"
PARENT_DIR_ENV = "VOUCHERS_TEST_POSTGRES_DIR"  # where the cluster directory goes; /tmp if unset
UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"
ADMIN_DATABASE = "postgres"
DRIVER = "postgresql+psycopg"

_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
)
# Benchmarks measure a durable server: fsync and synchronous commit stay on.
DURABLE_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=200",
    "-c shared_buffers=1GB",
    "-c max_wal_size=8GB",
)
_PORT_ATTEMPTS = 5


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (0,)


def _has_server_binaries(bin_dir: Path) -> bool:
    return all(
        (bin_dir / name).is_file() and os.access(bin_dir / name, os.X_OK)
        for name in ("initdb", "pg_ctl")
    )


def find_postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None.

    Looks at ``$VOUCHERS_POSTGRES_BIN``, ``pg_config --bindir`` (often the client-only
    directory), /usr/lib/postgresql/*/bin (newest first), the usual source-install
    locations, and finally ``initdb`` on PATH.
    """
    candidates: list[Path] = []
    if explicit := os.environ.get(BIN_DIR_ENV):
        candidates.append(Path(explicit))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if bindir:
                candidates.append(Path(bindir))
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    candidates.extend(Path(p) for p in ("/usr/local/pgsql/bin", "/usr/pgsql/bin"))
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    return next((c for c in candidates if _has_server_binaries(c)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(home: Path) -> dict[str, str]:
    """Our environment without libpq's PG* variables, with a C locale and a usable HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", HOME=str(home))
    return env


class PostgresError(RuntimeError):
    """A PostgreSQL helper command failed."""


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    def __init__(
        self,
        admin_url: URL,
        *,
        bin_dir: Path | None = None,
        base_dir: Path | None = None,
        run_as: str | None = None,
    ) -> None:
        self._admin_url = admin_url.set(drivername=DRIVER)
        self._bin_dir = bin_dir
        self._base_dir = base_dir  # set only for a cluster we own
        self._run_as = run_as
        self._stopped = False

    # -- construction ------------------------------------------------------------------

    @classmethod
    def external(cls, url: str) -> PostgresServer:
        """Use an existing server; ``url`` (SQLAlchemy or libpq form) names its admin database."""
        admin_url = make_url(url)
        if not admin_url.database:
            admin_url = admin_url.set(database=ADMIN_DATABASE)
        return cls(admin_url, bin_dir=find_postgres_bin())

    @classmethod
    def start(
        cls, bin_dir: Path | None = None, *, options: Sequence[str] = _SERVER_OPTIONS
    ) -> PostgresServer:
        """initdb and start a throwaway cluster; raise PostgresError if that fails."""
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None:
            raise PostgresError("no PostgreSQL server binaries (initdb, pg_ctl) found")
        run_as = UNPRIVILEGED_USER if os.geteuid() == 0 else None
        parent = os.environ.get(PARENT_DIR_ENV) or "/tmp"
        base_dir = Path(tempfile.mkdtemp(prefix="vouchers-pg-", dir=parent))
        if run_as is not None:
            user = pwd.getpwnam(run_as)
            os.chown(base_dir, user.pw_uid, user.pw_gid)
        server = cls(
            URL.create(DRIVER, username=SUPERUSER, host="127.0.0.1", database=ADMIN_DATABASE),
            bin_dir=bin_dir,
            base_dir=base_dir,
            run_as=run_as,
        )
        atexit.register(server.stop)  # in case the session dies before its teardown
        try:
            server._initdb()
            server._pg_ctl_start(options)
        except BaseException:
            server.stop()
            raise
        return server

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public API --------------------------------------------------------------------

    @property
    def is_external(self) -> bool:
        return self._base_dir is None

    @property
    def port(self) -> int | None:
        return self._admin_url.port

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of database ``dbname`` on this server."""
        return self._admin_url.set(database=dbname).render_as_string(hide_password=False)

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE ``name`` (optionally from ``template``); return its URL."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        self._admin_execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ``name`` if it exists, terminating any connections still open to it."""
        self._admin_execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    @contextlib.contextmanager
    def temporary_database(self, template: str | None = None) -> Iterator[str]:
        """A new database ``t_<uuid hex>`` for the duration of the block; yields its URL."""
        name = f"t_{uuid.uuid4().hex}"
        url = self.create_database(name, template=template)
        try:
            yield url
        finally:
            self.drop_database(name)

    def dump(self, dbname: str) -> bytes:
        """Plain-SQL ``pg_dump`` of ``dbname``."""
        pg_dump = self._client_binary("pg_dump")
        result = subprocess.run(
            [str(pg_dump), "--no-password", f"--dbname={self._libpq_url(dbname)}"],
            capture_output=True,
            check=False,
            env=self._client_env(),
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise PostgresError(
                f"pg_dump {dbname} failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout

    def stop(self) -> None:
        """Stop and delete a cluster we started (idempotent); an external server is left alone."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        if self._base_dir is None:
            return
        data_dir = self._base_dir / "data"
        if (data_dir / "postmaster.pid").exists():
            stopped = self._run_server_binary(
                ["pg_ctl", "stop", "-D", str(data_dir), "-m", "immediate", "-w", "-t", "30"]
            )
            if stopped.returncode != 0:
                self._kill_postmaster(data_dir)
        shutil.rmtree(self._base_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------------

    def _libpq_url(self, dbname: str) -> str:
        url = self._admin_url.set(drivername="postgresql", database=dbname)
        return url.render_as_string(hide_password=False)

    def _admin_execute(self, query: sql.Composed) -> None:
        with psycopg.connect(self._libpq_url(self._admin_url.database or ""), autocommit=True) as c:
            c.execute(query)

    def _client_binary(self, name: str) -> Path:
        if self._bin_dir is not None and (self._bin_dir / name).is_file():
            return self._bin_dir / name
        if found := shutil.which(name):
            return Path(found)
        raise PostgresError(f"{name} not found (looked in {self._bin_dir} and on PATH)")

    def _client_env(self) -> Mapping[str, str] | None:
        # For our own cluster, ignore any PG* settings of the caller; an external URL
        # may rely on them (PGPASSWORD, PGSSLMODE...), so keep the environment as is.
        return None if self._base_dir is None else _clean_env(self._base_dir)

    def _run_server_binary(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        assert self._base_dir is not None
        assert self._bin_dir is not None
        command = [str(self._bin_dir / argv[0]), *argv[1:]]
        # As we are, unless we are root: then as the unprivileged user.
        uid: int | None = None
        gid: int | None = None
        groups: list[int] | None = None
        if self._run_as is not None:
            user = pwd.getpwnam(self._run_as)
            uid, gid, groups = user.pw_uid, user.pw_gid, []
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=self._base_dir,
            env=_clean_env(self._base_dir),
            stdin=subprocess.DEVNULL,
            user=uid,
            group=gid,
            extra_groups=groups,
        )

    def _initdb(self) -> None:
        assert self._base_dir is not None
        result = self._run_server_binary(
            [
                "initdb",
                "-D",
                str(self._base_dir / "data"),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stderr}")

    def _pg_ctl_start(self, server_options: Sequence[str]) -> None:
        assert self._base_dir is not None
        log = self._base_dir / "server.log"
        for _ in range(_PORT_ATTEMPTS):
            port = _free_port()
            options = " ".join([f"-p {port}", f"-k {self._base_dir}", *server_options])
            log_size = log.stat().st_size if log.exists() else 0
            result = self._run_server_binary(
                [
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self._base_dir / "data"),
                    "-l",
                    str(log),
                    "-o",
                    options,
                ]
            )
            if result.returncode == 0:
                self._admin_url = self._admin_url.set(port=port)
                return
            new_log = log.read_bytes()[log_size:].decode(errors="replace") if log.exists() else ""
            if "Address already in use" not in new_log:  # lost a race for the port: retry
                raise PostgresError(
                    f"pg_ctl start failed ({result.returncode}):\n{result.stderr}\n{new_log}"
                )
        raise PostgresError(f"pg_ctl start: no free port after {_PORT_ATTEMPTS} attempts")

    @staticmethod
    def _kill_postmaster(data_dir: Path) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # postmaster's "immediate shutdown"
            for _ in range(100):
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)


def server_from_environment() -> PostgresServer | None:
    """The server tests should use: ``$VOUCHERS_TEST_POSTGRES_URL`` if set, else a throwaway
    cluster from the machine's binaries; None when there is neither."""
    if external := os.environ.get(EXTERNAL_URL_ENV):
        return PostgresServer.external(external)
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        return None
    return PostgresServer.start(bin_dir)


def benchmark_server() -> PostgresServer:
    """The server benchmarks measure: VOUCHERS_BENCH_POSTGRES_URL, or a new durable cluster."""
    external = os.environ.get("VOUCHERS_BENCH_POSTGRES_URL")
    if external:
        return PostgresServer.external(external)
    return PostgresServer.start(options=DURABLE_SERVER_OPTIONS)
