from __future__ import annotations

import dataclasses

import pytest
from cryptography.exceptions import InvalidTag

from basketpay.vault.crypto import KeyEncryptionKey


def test_seal_and_open_round_trip_bound_to_the_row() -> None:
    key = KeyEncryptionKey(b"a" * 32)
    sealed = key.seal(b"4242424242424242", b"pm_1")
    assert b"4242424242424242" not in sealed.ciphertext + sealed.wrapped_data_key
    assert key.open(sealed, b"pm_1") == b"4242424242424242"
    with pytest.raises(InvalidTag):
        key.open(sealed, b"pm_2")  # moved to another row


def test_tampering_and_wrong_keys_are_detected() -> None:
    key = KeyEncryptionKey(b"a" * 32)
    sealed = key.seal(b"4242424242424242", b"pm_1")
    tampered = dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        key.open(tampered, b"pm_1")
    with pytest.raises(ValueError):
        KeyEncryptionKey(b"b" * 32).open(sealed, b"pm_1")


def test_fingerprints_are_keyed() -> None:
    assert KeyEncryptionKey(b"a" * 32).fingerprint(b"x") != KeyEncryptionKey(b"b" * 32).fingerprint(b"x")
