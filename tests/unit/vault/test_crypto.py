from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from basketpay.vault.crypto import KeyEncryptionKey
from basketpay.vault.keyring import Keyring, KeyringError


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


def test_keyring_rotation_keeps_old_cards_readable(tmp_path: Path) -> None:
    keyring = Keyring.from_settings(None, tmp_path)
    old = keyring.seal(b"4242424242424242", b"pm_1")
    fingerprint = keyring.fingerprint(b"4242424242424242")
    new_key = keyring.rotate()
    assert keyring.active.key_id == new_key.key_id != old.key_id
    assert keyring.open(old, b"pm_1") == b"4242424242424242"
    rewrapped = keyring.rewrap(old, b"pm_1")
    assert rewrapped.key_id == new_key.key_id and rewrapped.ciphertext == old.ciphertext
    assert keyring.open(rewrapped, b"pm_1") == b"4242424242424242"
    assert keyring.fingerprint(b"4242424242424242") == fingerprint  # stable across rotations
    other_process = Keyring.from_settings(None, tmp_path)  # reads the same file
    assert other_process.active.key_id == new_key.key_id
    assert (tmp_path / "vault-keyring.json").stat().st_mode & 0o777 == 0o600


def test_a_process_notices_a_rotation_made_elsewhere(tmp_path: Path) -> None:
    service, cli = Keyring.from_settings(None, tmp_path), Keyring.from_settings(None, tmp_path)
    new_key = cli.rotate()
    sealed = cli.seal(b"5555555555554444", b"pm_2")
    assert service.open(sealed, b"pm_2") == b"5555555555554444"
    assert service.active.key_id == new_key.key_id


def test_a_fixed_key_cannot_rotate() -> None:
    keyring = Keyring.from_settings(base64.b64encode(b"k" * 32).decode(), Path("/nonexistent"))
    with pytest.raises(KeyringError):
        keyring.rotate()
