"""Settings: where the data lives, which database to use and who is acting.

Everything is read once from the environment (or given explicitly by an entry point's
flags) into a frozen ``Settings``; nothing else in the package reads ``os.environ``
except the key loader, which needs the raw key variables.

* ``VOUCHERS_HOME``: the data directory (SQLite file, key file); default ``./vouchers-data``.
* ``VOUCHERS_DATABASE_URL``: a SQLAlchemy URL (``sqlite:///…`` or
  ``postgresql+psycopg://…``); default the SQLite file ``vouchers.db`` in the home.
* ``VOUCHERS_USER``: the acting staff identity for the CLI; default the OS user.
* ``VOUCHERS_FOUR_EYES``: ``0`` lets the user who generated a lot accept and activate it
  too; default ``1`` (on).
* ``VOUCHERS_EMBEDDED_WORKER``: ``0`` stops ``vouchers serve`` from carrying out due process
  runs itself (when separate ``vouchers worker`` processes do); default ``1`` (on).
* ``VOUCHERS_SECURE_COOKIES``: ``1`` marks console session cookies ``Secure`` (the server is
  reached over https, directly or behind a TLS-terminating proxy); default ``0``, because
  the embedded default serves plain http on 127.0.0.1.
* ``VOUCHERS_SESSION_HOURS``: how long a console or portal sign-in lasts; default 8.
* ``VOUCHERS_PORTAL_LINK_KEYS``: the secret(s) a host platform signs customer portal links
  with (docs/portal.md): comma-separated, each at least 32 characters; the first signs,
  all verify (rotation). Unset: signed links are refused.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vouchers.errors import ValidationError

DEFAULT_HOME = "vouchers-data"
MIN_LINK_KEY = 32


@dataclass(frozen=True)
class Settings:
    """Operator-level configuration of one installation."""

    home: Path
    database_url: str
    actor: str
    four_eyes: bool = True
    embedded_worker: bool = True
    secure_cookies: bool = False
    session_hours: float = 8.0
    portal_link_keys: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        home: str | Path | None = None,
        database_url: str | None = None,
        actor: str | None = None,
    ) -> Settings:
        """Build settings from explicit values first, then the environment, then defaults."""
        env = os.environ if environ is None else environ
        home_path = Path(home or env.get("VOUCHERS_HOME") or DEFAULT_HOME).expanduser().absolute()
        url = database_url or env.get("VOUCHERS_DATABASE_URL") or sqlite_url(home_path)
        who = actor or env.get("VOUCHERS_USER") or _os_user()
        return cls(
            home=home_path,
            database_url=normalise_database_url(url),
            actor=who,
            four_eyes=_flag(env, "VOUCHERS_FOUR_EYES", default=True),
            embedded_worker=_flag(env, "VOUCHERS_EMBEDDED_WORKER", default=True),
            secure_cookies=_flag(env, "VOUCHERS_SECURE_COOKIES", default=False),
            session_hours=_hours(env.get("VOUCHERS_SESSION_HOURS", "8")),
            portal_link_keys=_link_keys(env.get("VOUCHERS_PORTAL_LINK_KEYS", "")),
        )


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """A yes/no variable: ``0``, ``false``, ``no`` and ``off`` are no; anything else yes."""
    value = env.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 30:
        raise ValidationError(f"VOUCHERS_SESSION_HOURS must be hours from 0 to 720, not {text!r}")
    return hours


def _link_keys(text: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in text.split(",") if key.strip())
    if any(len(key) < MIN_LINK_KEY for key in keys):
        raise ValidationError(
            f"every VOUCHERS_PORTAL_LINK_KEYS secret needs at least {MIN_LINK_KEY} characters "
            "(make one with: openssl rand -hex 32)"
        )
    return keys


def sqlite_url(home: Path) -> str:
    """The URL of the embedded default database inside ``home``."""
    return f"sqlite:///{home / 'vouchers.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` and ``postgresql://`` spellings; use psycopg 3."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a bare container
        return "operator"
