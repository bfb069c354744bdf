"""age encryption of export files for the print house, through pyrage (the Rust ``age``
crate's Python binding).

Recipient public keys (``age1…`` X25519 keys, or ``ssh-ed25519``/``ssh-rsa`` keys) encrypt
as a stream: the plain file is read in blocks, never whole. pyrage's passphrase mode (scrypt)
takes bytes, so a passphrase-encrypted export is held in memory once while encrypting
(about 100 MB a million vouchers in CSV); docs/exports.md says so. The print house decrypts
with the ``age`` or ``rage`` command line tools, or any age implementation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyrage
from pyrage import passphrase as age_passphrase
from pyrage import ssh, x25519

from vouchers.domain.exports import Encryption, EncryptionKind
from vouchers.errors import ValidationError


def encrypt_file(plain: Path, target: Path, encryption: Encryption, secret: str | None) -> None:
    """Write ``plain`` encrypted as asked to ``target`` (binary age format)."""
    if encryption.kind is EncryptionKind.PASSPHRASE:
        if not secret:
            raise ValidationError("an empty passphrase does not protect anything")
        target.write_bytes(age_passphrase.encrypt(plain.read_bytes(), secret))
        return
    recipients = [_recipient(key) for key in encryption.recipients]
    with plain.open("rb") as reader, target.open("wb") as writer:
        pyrage.encrypt_io(reader, writer, recipients)


def _recipient(key: str) -> Any:
    try:
        if key.startswith("age1"):
            return x25519.Recipient.from_str(key)
        return ssh.Recipient.from_str(key)
    except pyrage.RecipientError as exc:
        raise ValidationError(f"{key[:24]!r}… is not a usable public key: {exc}") from exc
