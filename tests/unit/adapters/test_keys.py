"""Keys and the code vault: sealing, opening, binding to the number, loading and saving."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.adapters.keys import (
    CodeVault,
    KeyRing,
    _Hmac,
    format_key_list,
    load_keyring,
    read_key_file,
)
from vouchers.errors import KeyMaterialError

CODE = "7K3M9QWERTYZ0AB1C"


def test_a_sealed_code_opens_only_under_its_own_number() -> None:
    vault = CodeVault(KeyRing.generate())
    sealed = vault.seal(42, CODE)
    assert CODE.encode() not in sealed
    assert vault.open(42, sealed, vault.data_key_id) == CODE
    with pytest.raises(KeyMaterialError, match="voucher 43 does not decrypt"):
        vault.open(43, sealed, vault.data_key_id)


def test_seal_many_matches_sealing_one_by_one() -> None:
    vault = CodeVault(KeyRing.generate())
    codes = [CODE, CODE[::-1], "0" * 17]
    digests, ciphertexts = vault.seal_many(100, codes)
    assert digests == [vault.digest(code) for code in codes]
    assert [vault.open(100 + i, c, vault.data_key_id) for i, c in enumerate(ciphertexts)] == codes
    assert len({c[:12] for c in ciphertexts}) == 3  # a fresh nonce each


def test_digests_are_keyed_and_differ_between_lookup_keys() -> None:
    ring = KeyRing.generate()
    rotated = ring.with_new_keys()
    assert CodeVault(ring).digest(CODE) != CodeVault(rotated).digest(CODE)
    assert CodeVault(rotated).digests(CODE) == [
        CodeVault(rotated).digest(CODE),
        CodeVault(ring).digest(CODE),
    ]


def test_a_ciphertext_under_an_unknown_key_is_refused() -> None:
    vault = CodeVault(KeyRing.generate())
    with pytest.raises(KeyMaterialError, match="data key 9"):
        vault.open(1, vault.seal(1, CODE), 9)


def test_a_vault_survives_pickling_for_worker_processes() -> None:
    vault = CodeVault(KeyRing.generate())
    copy = pickle.loads(pickle.dumps(vault))
    assert copy.open(5, vault.seal(5, CODE), vault.data_key_id) == CODE


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    ring = load_keyring(tmp_path, {})
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(tmp_path, {}) == ring
    assert read_key_file(path) == ring


def test_keys_from_the_environment_win_over_the_key_file(tmp_path: Path) -> None:
    ring = KeyRing.generate().with_new_keys()
    env = {
        "VOUCHERS_LOOKUP_KEYS": format_key_list(ring.lookup_keys, ring.current_lookup_id),
        "VOUCHERS_DATA_KEYS": format_key_list(ring.data_keys, ring.current_data_id),
    }
    loaded = load_keyring(tmp_path, env)
    assert loaded == ring
    assert loaded.source == "environment"
    assert not (tmp_path / "keys.json").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOUCHERS_LOOKUP_KEYS": "1:" + base64.b64encode(b"k" * 32).decode()}, "both"),
        ({"VOUCHERS_LOOKUP_KEYS": "x", "VOUCHERS_DATA_KEYS": "y"}, "id:base64"),
        (
            {
                "VOUCHERS_LOOKUP_KEYS": "1:" + base64.b64encode(b"short").decode(),
                "VOUCHERS_DATA_KEYS": "1:" + base64.b64encode(b"k" * 32).decode(),
            },
            "32 bytes",
        ),
    ],
)
def test_malformed_environment_keys_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(KeyMaterialError, match=message):
        load_keyring(tmp_path, env)


def test_a_corrupt_key_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(KeyMaterialError, match=r"keys\.json"):
        load_keyring(tmp_path, {})


def test_dropping_old_keys_keeps_only_the_current_ones() -> None:
    ring = KeyRing.generate().with_new_keys().only_current()
    assert sorted(ring.lookup_keys) == [2]
    assert sorted(ring.data_keys) == [2]


# -- opening many secrets at once (exports) ---------------------------------------------------


@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=100))
def test_the_precomputed_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    assert _Hmac(key).digest(message) == hmac.digest(key, message, hashlib.sha256)


def sealed_rows(vault: CodeVault, codes: list[str], first: int = 1) -> list[tuple[Any, ...]]:
    digests, ciphertexts = vault.seal_many(first, codes)
    return [
        (first + i, ciphertexts[i], vault.data_key_id, digests[i], vault.lookup_key_id, "more")
        for i in range(len(codes))
    ]


def test_open_checked_opens_every_secret_and_checks_its_digest() -> None:
    vault = CodeVault(KeyRing.generate())
    codes = [CODE, CODE[::-1], "0" * 17]
    assert vault.open_checked(sealed_rows(vault, codes, first=7)) == codes


def test_open_checked_accepts_digests_and_ciphertexts_under_older_keys() -> None:
    # Given secrets sealed before a rotation that has not re-sealed them yet
    old = CodeVault(KeyRing.generate())
    rows = sealed_rows(old, [CODE, CODE[::-1]])
    rotated = CodeVault(old.ring.with_new_keys())
    assert rotated.lookup_key_id != old.lookup_key_id
    # Then they open and match under the keys they name
    assert rotated.open_checked(rows) == [CODE, CODE[::-1]]
    # … and a digest labelled with the wrong lookup key is still found under the others
    relabelled = [(*row[:4], rotated.lookup_key_id, *row[5:]) for row in rows]
    assert rotated.open_checked(relabelled) == [CODE, CODE[::-1]]


def test_open_checked_names_the_voucher_whose_secret_fails() -> None:
    vault = CodeVault(KeyRing.generate())
    rows = sealed_rows(vault, [CODE, CODE[::-1], "0" * 17])
    wrong_digest = [*rows[:2], (*rows[2][:3], bytes(32), *rows[2][4:])]
    with pytest.raises(KeyMaterialError, match="voucher 3 does not match its lookup digest"):
        vault.open_checked(wrong_digest)
    moved = [rows[0], (2, rows[0][1], *rows[1][2:])]  # a ciphertext bound to voucher 1
    with pytest.raises(KeyMaterialError, match="voucher 2 does not decrypt"):
        vault.open_checked(moved)
    unknown_key = [(*rows[0][:2], 99, *rows[0][3:])]
    with pytest.raises(KeyMaterialError, match="data key 99 of voucher 1"):
        vault.open_checked(unknown_key)
