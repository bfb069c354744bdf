"""Secret keys and the code vault: lookup digests and AES-256-GCM ciphertexts of codes.

A code is never stored in clear. Two keys protect it, both outside the database:

* a **lookup key**: ``HMAC-SHA-256(lookup key, canonical code)`` is the unique-indexed
  digest a typed code is found by;
* a **data key**: ``AES-256-GCM(data key, nonce, code, associated data = voucher number)``
  is the ciphertext that reveal, export and printing decrypt. Binding the number means a
  ciphertext copied onto another voucher row does not decrypt.

Each key has a small integer id stored beside what it protected, so rotation can run
while the system serves: new rows use the current keys, old rows stay readable until
``vouchers keys rotate`` has re-sealed them, and lookups try every live lookup key.

Keys come from the environment (``VOUCHERS_LOOKUP_KEYS`` and ``VOUCHERS_DATA_KEYS``, each
``id:base64[,id:base64…]`` with the current key first) or from a key file
(``VOUCHERS_KEY_FILE``, default ``keys.json`` in the data directory) that is created with
mode 0600 on first run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vouchers.errors import KeyMaterialError

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "keys.json"
_KEY_FILE_VERSION = 1


@dataclass(frozen=True)
class KeyRing:
    """Every live key by id, and which one of each kind new material uses."""

    lookup_keys: Mapping[int, bytes]
    data_keys: Mapping[int, bytes]
    current_lookup_id: int
    current_data_id: int
    source: str = field(default="memory", compare=False)

    def __post_init__(self) -> None:
        for kind, keys, current in (
            ("lookup", self.lookup_keys, self.current_lookup_id),
            ("data", self.data_keys, self.current_data_id),
        ):
            if current not in keys:
                raise KeyMaterialError(f"the current {kind} key {current} is not in the key ring")
            for key_id, key in keys.items():
                if len(key) != KEY_BYTES:
                    raise KeyMaterialError(f"{kind} key {key_id} is not {KEY_BYTES} bytes long")

    @classmethod
    def generate(cls, *, lookup_id: int = 1, data_id: int = 1) -> KeyRing:
        """A fresh ring with one random key of each kind."""
        return cls(
            lookup_keys={lookup_id: secrets.token_bytes(KEY_BYTES)},
            data_keys={data_id: secrets.token_bytes(KEY_BYTES)},
            current_lookup_id=lookup_id,
            current_data_id=data_id,
        )

    def with_new_keys(self) -> KeyRing:
        """This ring plus one new key of each kind, which become current."""
        lookup_id = max(self.lookup_keys) + 1
        data_id = max(self.data_keys) + 1
        return KeyRing(
            lookup_keys={**self.lookup_keys, lookup_id: secrets.token_bytes(KEY_BYTES)},
            data_keys={**self.data_keys, data_id: secrets.token_bytes(KEY_BYTES)},
            current_lookup_id=lookup_id,
            current_data_id=data_id,
            source=self.source,
        )

    def only_current(self) -> KeyRing:
        """This ring without the keys that rotation has made unnecessary."""
        return KeyRing(
            lookup_keys={self.current_lookup_id: self.lookup_keys[self.current_lookup_id]},
            data_keys={self.current_data_id: self.data_keys[self.current_data_id]},
            current_lookup_id=self.current_lookup_id,
            current_data_id=self.current_data_id,
            source=self.source,
        )


class CodeVault:
    """Seals codes into (digest, ciphertext) and opens ciphertexts, under a ``KeyRing``."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.lookup_key_id = ring.current_lookup_id
        self.data_key_id = ring.current_data_id
        self._lookup_key = ring.lookup_keys[ring.current_lookup_id]
        self._aead = AESGCM(ring.data_keys[ring.current_data_id])
        self._aeads = {key_id: AESGCM(key) for key_id, key in ring.data_keys.items()}

    def __reduce__(self) -> tuple[type[CodeVault], tuple[KeyRing]]:
        # Ciphers do not pickle; a vault sent to a worker process is rebuilt from its ring.
        return (CodeVault, (self.ring,))

    def digest(self, code: str) -> bytes:
        """The lookup digest of a canonical code under the current lookup key."""
        return hmac.digest(self._lookup_key, code.encode(), hashlib.sha256)

    def digests(self, code: str) -> list[bytes]:
        """The digest under every live lookup key, current first (for lookups during rotation)."""
        data = code.encode()
        ordered = sorted(self.ring.lookup_keys, key=lambda k: k != self.lookup_key_id)
        return [hmac.digest(self.ring.lookup_keys[k], data, hashlib.sha256) for k in ordered]

    def seal(self, number: int, code: str) -> bytes:
        """The ciphertext of ``code`` for voucher ``number`` under the current data key."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, code.encode(), _aad(number))

    def seal_many(self, first_number: int, codes: Sequence[str]) -> tuple[list[bytes], list[bytes]]:
        """Digests and ciphertexts for ``codes`` numbered from ``first_number`` on.

        The hot path of generation: one urandom call for every nonce, no per-code lookups.
        """
        key = self._lookup_key
        encrypt = self._aead.encrypt
        sha256 = hashlib.sha256
        nonces = os.urandom(NONCE_BYTES * len(codes))
        digests: list[bytes] = []
        ciphertexts: list[bytes] = []
        add_digest = digests.append
        add_ciphertext = ciphertexts.append
        for i, code in enumerate(codes):
            data = code.encode()
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            add_digest(hmac.digest(key, data, sha256))
            add_ciphertext(nonce + encrypt(nonce, data, (first_number + i).to_bytes(8, "big")))
        return digests, ciphertexts

    def open(self, number: int, ciphertext: bytes, key_id: int) -> str:
        """The code inside a ciphertext; raises KeyMaterialError if it does not decrypt."""
        aead = self._aeads.get(key_id)
        if aead is None:
            raise KeyMaterialError(f"data key {key_id} of voucher {number} is not in the key ring")
        try:
            plain = aead.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], _aad(number))
        except InvalidTag as exc:
            raise KeyMaterialError(f"the secret of voucher {number} does not decrypt") from exc
        return plain.decode()

    def open_checked(self, sealed: Iterable[Sequence[Any]]) -> list[str]:
        """The codes inside many ciphertexts, each checked against its stored lookup digest.

        Each item of ``sealed`` begins (number, ciphertext, data key id, lookup digest,
        lookup key id), as ``SealedVoucher`` does; what follows is ignored.

        The hot path of exports: the HMAC key schedule is made once per call, not once per
        code. A digest that differs under its own lookup key (or names a key the ring does
        not hold) is tried under every live key, as :meth:`digests` does during rotation.
        The digests compared are both stored or derived, never typed, so the comparison
        need not be constant-time. Raises KeyMaterialError naming the first voucher whose
        secret does not decrypt or does not match its digest.
        """
        aeads = self._aeads
        macs = {key_id: _Hmac(key) for key_id, key in self.ring.lookup_keys.items()}
        codes: list[str] = []
        add = codes.append
        data_id = lookup_id = object()  # the previous row's keys, usually every row's
        for row in sealed:
            number, ciphertext, data_key_id, digest, lookup_key_id = row[:5]
            if data_key_id != data_id:
                aead = aeads.get(data_key_id)
                if aead is None:
                    raise KeyMaterialError(
                        f"data key {data_key_id} of voucher {number} is not in the key ring"
                    )
                decrypt, data_id = aead.decrypt, data_key_id
            if lookup_key_id != lookup_id:
                mac, lookup_id = macs.get(lookup_key_id), lookup_key_id
            try:
                plain = decrypt(
                    ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], number.to_bytes(8, "big")
                )
            except InvalidTag as exc:
                raise KeyMaterialError(f"the secret of voucher {number} does not decrypt") from exc
            code = plain.decode()
            if (mac is None or mac.digest(plain) != digest) and digest not in self.digests(code):
                raise KeyMaterialError(
                    f"the secret of voucher {number} does not match its lookup digest"
                )
            add(code)
        return codes


class _Hmac:
    """HMAC-SHA-256 under one key with the inner and outer pads hashed once (RFC 2104):
    each message then costs two hash copies, not a key schedule (``hmac.digest`` makes one
    per call, ``hmac.HMAC.copy`` is pure Python)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_SHA256_BLOCK = 64


def _aad(number: int) -> bytes:
    return number.to_bytes(8, "big")


# -- loading and saving -------------------------------------------------------------------


def key_file_path(home: Path, environ: Mapping[str, str]) -> Path:
    """Where the key file is, or would be created."""
    return Path(environ.get("VOUCHERS_KEY_FILE") or home / KEY_FILE_NAME)


def load_keyring(home: Path, environ: Mapping[str, str] | None = None) -> KeyRing:
    """The key ring from the environment, else from the key file (created if missing)."""
    env = os.environ if environ is None else environ
    lookup, data = env.get("VOUCHERS_LOOKUP_KEYS"), env.get("VOUCHERS_DATA_KEYS")
    if lookup or data:
        if not (lookup and data):
            raise KeyMaterialError(
                "set both VOUCHERS_LOOKUP_KEYS and VOUCHERS_DATA_KEYS, or neither"
            )
        lookup_keys, lookup_current = _parse_key_list("VOUCHERS_LOOKUP_KEYS", lookup)
        data_keys, data_current = _parse_key_list("VOUCHERS_DATA_KEYS", data)
        return KeyRing(lookup_keys, data_keys, lookup_current, data_current, source="environment")
    path = key_file_path(home, env)
    if not path.exists():
        ring = KeyRing.generate()
        save_keyring(path, ring)
    return read_key_file(path)


def read_key_file(path: Path) -> KeyRing:
    """Parse a key file; raises KeyMaterialError on anything malformed."""
    try:
        doc = json.loads(path.read_text())
        return KeyRing(
            lookup_keys=_decode_keys(doc["lookup"]["keys"]),
            data_keys=_decode_keys(doc["data"]["keys"]),
            current_lookup_id=int(doc["lookup"]["current"]),
            current_data_id=int(doc["data"]["current"]),
            source=str(path),
        )
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise KeyMaterialError(f"cannot read the key file {path}: {exc}") from exc


def save_keyring(path: Path, ring: KeyRing) -> None:
    """Write the ring to ``path`` atomically, readable by its owner only (mode 0600)."""
    doc = {
        "version": _KEY_FILE_VERSION,
        "lookup": {"current": ring.current_lookup_id, "keys": _encode_keys(ring.lookup_keys)},
        "data": {"current": ring.current_data_id, "keys": _encode_keys(ring.data_keys)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def format_key_list(keys: Mapping[int, bytes], current: int) -> str:
    """Keys in the environment-variable form, current first."""
    ordered = sorted(keys, key=lambda k: k != current)
    return ",".join(f"{k}:{base64.b64encode(keys[k]).decode()}" for k in ordered)


def _parse_key_list(name: str, text: str) -> tuple[dict[int, bytes], int]:
    keys: dict[int, bytes] = {}
    try:
        for item in text.split(","):
            key_id, _, encoded = item.strip().partition(":")
            keys[int(key_id)] = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise KeyMaterialError(f"{name} must be 'id:base64[,id:base64…]'") from exc
    return keys, int(text.split(",", maxsplit=1)[0].partition(":")[0])


def _encode_keys(keys: Mapping[int, bytes]) -> dict[str, str]:
    return {str(k): base64.b64encode(v).decode() for k, v in sorted(keys.items())}


def _decode_keys(raw: Mapping[str, str]) -> dict[int, bytes]:
    return {int(k): base64.b64decode(v, validate=True) for k, v in raw.items()}
