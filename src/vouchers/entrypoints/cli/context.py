"""What every command shares: the settings from global options, the app built lazily,
the acting user, parsing of references and dates, and error rendering (one line on
stderr, a stable exit code)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from vouchers import errors
from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings

# One exit code per error class, documented in docs/cli.md.
EXIT_CODES: tuple[tuple[type[errors.VouchersError], int], ...] = (
    (errors.ValidationError, 2),
    (errors.NotFoundError, 3),
    (errors.ConflictError, 4),
    (errors.InvalidTransitionError, 5),
    (errors.KeyMaterialError, 6),
    (errors.StorageError, 7),
    (errors.PermissionDeniedError, 8),
    (errors.VoucherUnavailableError, 9),
    (errors.RedemptionRefusedError, 9),
    (errors.TooManyAttemptsError, 10),
    (errors.AuthenticationError, 11),
)

Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """Set by the root callback; commands reach it through ``ctx.obj``."""

    settings: Settings
    _app: App | None = field(default=None, repr=False)

    def app(self) -> App:
        if self._app is None:
            self._app = bootstrap(self.settings)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


def state(ctx: typer.Context) -> CliState:
    """The CLI state of the running command."""
    root = ctx.find_root()
    assert isinstance(root.obj, CliState)
    return root.obj


def fail(
    message: str,
    code: int = 1,
    *,
    as_json: bool = False,
    kind: str = "error",
    extra: dict[str, Any] | None = None,
) -> NoReturn:
    """Print one readable error line (and a JSON error object under --json) and exit.

    ``extra`` adds fields to the JSON error object (``retry_after`` for a lock-out).
    """
    if as_json:
        print(json.dumps({"error": {"type": kind, "message": message, **(extra or {})}}))
    sys.stderr.write(f"vouchers: error: {message}\n")
    raise typer.Exit(code)


@contextmanager
def handled(*, as_json: bool = False) -> Iterator[None]:
    """Turn a VouchersError raised inside into one error line and its exit code."""
    try:
        yield
    except errors.VouchersError as exc:
        code = next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), 1)
        message, extra = exc.message, None
        if isinstance(exc, errors.TooManyAttemptsError):
            # Scripts wait exactly this long; the message's own wording is rounded.
            message = f"{exc.message} (retry after {exc.retry_after} seconds)"
            extra = {"retry_after": exc.retry_after}
        fail(message, code, as_json=as_json, kind=exc.code, extra=extra)


def emit(data: Any, *, as_json: bool, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON under --json, otherwise call ``human`` to render it."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        human()


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar; yields the (done, total) callback services take."""
    # Off a terminal a stopped bar still leaves a blank line on stderr, before an error line.
    if not enabled or not err_console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_ref(text: str) -> int | str:
    """An id (all digits) or an alternative code, as services take references."""
    return int(text) if text.isascii() and text.isdigit() else text


def parse_moment(text: str | None) -> datetime | None:
    """An ISO 8601 date or time; one without a time zone is taken as UTC.

    Raises ValidationError for anything else.
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise errors.ValidationError(f"{text!r} is not an ISO 8601 date or time") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
