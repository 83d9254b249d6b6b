"""Field encryption: AES-GCM bound to its place, a keyring that rotates, and blind indexes."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.crypto import BlindIndex, FieldCipher, FieldRef, Keyring, generate_key
from core.errors import ConfigurationError, DecryptionError

HERE = FieldRef("users", "email", "0192f0c2-0000-7000-8000-000000000001")


def test_a_value_opens_only_where_it_was_sealed() -> None:
    keyring = Keyring.parse(f"k1:{generate_key()}")
    sealed = keyring.seal("alice@example.com", HERE)
    assert keyring.open(sealed, HERE) == "alice@example.com"
    assert b"alice" not in sealed
    for elsewhere in (
        FieldRef("users", "phone", HERE.row_id),
        FieldRef("users", "email", "another-row"),
        FieldRef("bank_accounts", "email", HERE.row_id),
    ):
        with pytest.raises(DecryptionError):
            keyring.open(sealed, elsewhere)


def test_any_altered_byte_is_detected() -> None:
    keyring = Keyring.parse(f"k1:{generate_key()}")
    sealed = keyring.seal("secret", HERE)
    for position in range(len(sealed)):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            keyring.open(bytes(altered), HERE)


def test_the_first_key_seals_and_every_key_opens() -> None:
    old, new = generate_key(), generate_key()
    sealed_before = Keyring.parse(f"old:{old}").seal("v", HERE)
    keyring = Keyring.parse(f"new:{new}, old:{old}")
    assert Keyring.key_id_of(keyring.seal("v", HERE)) == "new"
    assert keyring.open(sealed_before, HERE) == "v"
    with pytest.raises(DecryptionError, match="unknown key 'old'"):
        Keyring.parse(f"new:{new}").open(sealed_before, HERE)


@pytest.mark.parametrize("spec", ["", "nokeyid", "k1:not-base64!!", "k1:c2hvcnQ=", f"bad id:{generate_key()}"])
def test_malformed_keyrings_are_refused_with_the_setting_named(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="OMNIBOT_ENCRYPTION_KEYS"):
        Keyring.parse(spec)


def test_blind_indexes_match_equal_values_but_not_across_fields_or_keys() -> None:
    index = BlindIndex(b"k" * 32)
    assert index.digest("email", " Alice@Example.com ") == index.digest("email", "alice@example.com")
    assert index.digest("email", "a@b.c") != index.digest("phone", "a@b.c")
    assert index.digest("email", "a@b.c") != BlindIndex(b"j" * 32).digest("email", "a@b.c")


def test_the_cipher_names_a_missing_setting() -> None:
    with pytest.raises(ConfigurationError, match="OMNIBOT_ENCRYPTION_KEYS"):
        FieldCipher.from_settings(Settings(_env_file=None))
    with pytest.raises(ConfigurationError, match="OMNIBOT_BLIND_INDEX_KEY"):
        FieldCipher.from_settings(Settings(_env_file=None, encryption_keys=f"k:{generate_key()}"))
