"""Envelope encryption for card numbers.

Each card gets a fresh 256-bit data key; the card number is sealed with AES-GCM
under it, and the data key is wrapped (AES-GCM again) by a key-encryption key. Both
seals bind the payment method id as associated data, so a ciphertext cannot be
moved to another row. The key id names which key-encryption key wrapped the data
key: rotation re-wraps data keys and never touches the ciphertexts (keyring.py).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    wrapped_data_key: bytes
    ciphertext: bytes


class KeyEncryptionKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a key-encryption key must be 32 bytes (256 bits)")
        self.material = key
        self._aead = AESGCM(key)
        self.key_id = "kek_" + hashlib.sha256(key).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"KeyEncryptionKey({self.key_id})"

    def wrap(self, data_key: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, associated)

    def unwrap(self, wrapped: bytes, associated: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], associated)

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated)
        return Sealed(self.key_id, self.wrap(data_key, associated), ciphertext)

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        if sealed.key_id != self.key_id:
            raise ValueError(f"sealed under {sealed.key_id}, not {self.key_id}")
        data_key = self.unwrap(sealed.wrapped_data_key, associated)
        blob = sealed.ciphertext
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
