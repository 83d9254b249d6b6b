"""Encryption of personal data at rest (AES-256-GCM) and blind indexes for looking values up (HMAC-SHA256).

A sealed value, format version 1:

    0x01 | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext with its 16-byte tag

The associated data is that header followed by where the value lives, `table.column#row-id`: a ciphertext
copied to another row or column, or altered in any byte, fails to open.

Keys come from the environment (OMNIBOT_ENCRYPTION_KEYS): `id:base64,id:base64,...`, 32-byte keys. The first
key seals; every key opens, so a new key goes first and the old ones stay until `omnibot keys rotate` has
re-sealed everything under the new one. The blind index has its own key (OMNIBOT_BLIND_INDEX_KEY).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.config import Settings
from core.errors import ConfigurationError, DecryptionError

FORMAT_V1 = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


@dataclass(frozen=True)
class FieldRef:
    """Where a sealed value lives; it becomes the associated data of the encryption."""

    table: str
    column: str
    row_id: str

    def associated_data(self) -> bytes:
        return f"{self.table}.{self.column}#{self.row_id}".encode()


def generate_key() -> str:
    """A fresh random 32-byte key, base64-encoded, for OMNIBOT_ENCRYPTION_KEYS or OMNIBOT_BLIND_INDEX_KEY."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str, setting: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_"))
    except ValueError as exc:
        raise ConfigurationError(f"{setting}: a key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{setting}: keys must be {KEY_BYTES} bytes, one is {len(key)}")
    return key


class Keyring:
    """The encryption keys: the first seals, all open."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigurationError("OMNIBOT_ENCRYPTION_KEYS: at least one key is needed")
        self._ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id) or key_id in self._ciphers:
                raise ConfigurationError(f"OMNIBOT_ENCRYPTION_KEYS: bad or repeated key id {key_id!r}")
            self._ciphers[key_id] = AESGCM(key)
        self.primary_id = keys[0][0]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Read `id:base64,id:base64,...` (the format of OMNIBOT_ENCRYPTION_KEYS)."""
        keys = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep:
                raise ConfigurationError("OMNIBOT_ENCRYPTION_KEYS: each key is written `id:base64`")
            keys.append((key_id.strip(), decode_key(encoded, "OMNIBOT_ENCRYPTION_KEYS")))
        return cls(keys)

    def seal(self, plaintext: str, where: FieldRef) -> bytes:
        header = _header(self.primary_id)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary_id].encrypt(nonce, plaintext.encode(), header + where.associated_data())
        return header + nonce + sealed

    def open(self, token: bytes, where: FieldRef) -> str:
        key_id, body_start = _parse_header(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"{where.table}.{where.column}: sealed under unknown key {key_id!r}")
        nonce, sealed = token[body_start : body_start + NONCE_BYTES], token[body_start + NONCE_BYTES :]
        try:
            plain = cipher.decrypt(nonce, sealed, token[:body_start] + where.associated_data())
        except InvalidTag as exc:
            raise DecryptionError(f"{where.table}.{where.column}: value altered or not sealed for this row") from exc
        return plain.decode()

    @staticmethod
    def key_id_of(token: bytes) -> str:
        return _parse_header(token)[0]


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes([FORMAT_V1, len(encoded)]) + encoded


def _parse_header(token: bytes) -> tuple[str, int]:
    if len(token) < 2 or token[0] != FORMAT_V1:
        raise DecryptionError("not a sealed value of a known format")
    end = 2 + token[1]
    if len(token) < end + NONCE_BYTES + 16:
        raise DecryptionError("sealed value is truncated")
    return token[2:end].decode("ascii", errors="replace"), end


class BlindIndex:
    """A keyed digest of a normalized value, so that equal values can be found without storing them."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, field: str, value: str) -> bytes:
        normalized = " ".join(value.split()).casefold()
        # The field name separates domains: the same text as an email and as a phone gives different digests.
        return hmac.new(self._key, f"{field}\x00{normalized}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class FieldCipher:
    """What services need to store personal data: the keyring and the blind index."""

    keyring: Keyring
    blind_index: BlindIndex

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        if settings.encryption_keys is None:
            raise ConfigurationError("OMNIBOT_ENCRYPTION_KEYS is not set (see docs/configuration.md)")
        if settings.blind_index_key is None:
            raise ConfigurationError("OMNIBOT_BLIND_INDEX_KEY is not set (see docs/configuration.md)")
        keyring = Keyring.parse(settings.encryption_keys.get_secret_value())
        index_key = decode_key(settings.blind_index_key.get_secret_value(), "OMNIBOT_BLIND_INDEX_KEY")
        return cls(keyring, BlindIndex(index_key))
