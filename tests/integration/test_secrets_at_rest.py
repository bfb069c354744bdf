"""No code in clear in the database; key rotation keeps every code readable and findable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support.factories import all_secrets, clear_codes, generate, make_type
from support.postgres import PostgresServer
from vouchers.adapters.keys import CodeVault
from vouchers.bootstrap import App, finish_key_rotation, start_key_rotation
from vouchers.domain.codes import CodeFormat
from vouchers.services import vouchers
from vouchers.services.keys import rotate_keys


def database_bytes(app: App, request_server: PostgresServer | None) -> bytes:
    url = app.engine.url
    if url.get_backend_name() == "sqlite":
        app.engine.dispose()
        path = Path(str(url.database))
        with sqlite3.connect(path) as conn:  # fold the WAL into the main file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [path, *path.parent.glob(path.name + "-*")]
        return b"".join(f.read_bytes() for f in files)
    assert request_server is not None
    return request_server.dump(str(url.database))


def test_the_database_never_holds_a_code_in_clear(app: App, request) -> None:  # type: ignore[no-untyped-def]
    make_type(app)
    generate(app, "PREM", 200)
    codes = clear_codes(app)
    server = None
    if app.engine.dialect.name == "postgresql":
        server = request.getfixturevalue("postgres_server")
    dump = database_bytes(app, server)
    fmt = CodeFormat()
    assert len(dump) > 10_000
    for code in codes.values():
        for form in {code, fmt.display(code), code.lower()}:
            assert form.encode() not in dump, f"code {fmt.mask(code)} found in clear"
            assert form.encode("utf-16-le") not in dump


def test_rotation_reseals_every_secret_under_new_keys_and_codes_still_work(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 30)
    before = clear_codes(app)
    old_ring = app.keyring

    vault = start_key_rotation(app)
    assert vault.data_key_id == 2
    assert vault.lookup_key_id == 2
    some_code = before[1]
    # Mid-rotation, old digests are still found through the old lookup key.
    found = vouchers.find_voucher_by_code(some_code, uow=app.uow(), vault=vault, clock=app.clock)
    assert found.voucher.number == 1

    assert rotate_keys(uow=app.uow(), vault=vault, batch_size=7) == 30
    finish_key_rotation(app)

    assert {s.data_key_id for s in all_secrets(app)} == {2}
    assert {s.lookup_key_id for s in all_secrets(app)} == {2}
    assert sorted(app.keyring.data_keys) == [2]
    assert clear_codes(app, CodeVault(app.keyring)) == before
    for number, code in before.items():
        view = vouchers.find_voucher_by_code(code, uow=app.uow(), vault=app.vault, clock=app.clock)
        assert view.voucher.number == number
    # The retired keys can no longer find anything: the digests really were rebuilt.
    old_digest = CodeVault(old_ring).digest(some_code)
    with app.uow() as uow:
        assert uow.vouchers.find_by_digests([old_digest]) is None
    # Running it again has nothing left to do.
    assert rotate_keys(uow=app.uow(), vault=app.vault) == 0
