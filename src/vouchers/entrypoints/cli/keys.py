"""``vouchers keys``: where the keys come from, and rotation."""

from __future__ import annotations

import typer

from vouchers.bootstrap import finish_key_rotation, start_key_rotation
from vouchers.entrypoints.cli.context import Json, console, emit, handled, progress_bar, state
from vouchers.services.keys import rotate_keys

app = typer.Typer(help="Secret keys: status and rotation.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context, as_json: Json = False) -> None:
    """Which keys are live (ids only, never key material) and where they come from."""
    with handled(as_json=as_json):
        ring = state(ctx).app().keyring
    data = {
        "source": ring.source,
        "lookup_keys": sorted(ring.lookup_keys),
        "current_lookup_key": ring.current_lookup_id,
        "data_keys": sorted(ring.data_keys),
        "current_data_key": ring.current_data_id,
    }
    emit(data, as_json=as_json, human=lambda: console.print(data))


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: Json = False) -> None:
    """Re-seal every secret under new keys; old keys stay readable until it is done."""
    with handled(as_json=as_json), progress_bar("re-sealing", enabled=not as_json) as bar:
        app_ = state(ctx).app()
        vault = start_key_rotation(app_)
        count = rotate_keys(uow=app_.uow(), vault=vault, progress=bar)
        finish_key_rotation(app_)
    ring = app_.keyring
    data = {
        "resealed": count,
        "current_lookup_key": ring.current_lookup_id,
        "current_data_key": ring.current_data_id,
        "source": ring.source,
    }

    def human() -> None:
        console.print(
            f"re-sealed {count:,} secrets under lookup key {ring.current_lookup_id} "
            f"and data key {ring.current_data_id}"
        )
        if ring.source == "environment":
            console.print("other keys in VOUCHERS_LOOKUP_KEYS/VOUCHERS_DATA_KEYS may now go")

    emit(data, as_json=as_json, human=human)
