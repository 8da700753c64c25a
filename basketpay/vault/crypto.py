"""Envelope encryption for card numbers.

Each card gets a fresh 256-bit data key; the card number is sealed with AES-GCM
under it, and the data key is wrapped (AES-GCM again) by the key-encryption key.
Both seals bind the payment method id as associated data, so a ciphertext cannot
be moved to another row. The key id names which key-encryption key wrapped it,
which is what rotation (next issue) needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

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
            raise ValueError("the key-encryption key must be 32 bytes (256 bits)")
        self._aead = AESGCM(key)
        self._fingerprint_key = hmac.new(key, b"basketpay card fingerprint v1", hashlib.sha256).digest()
        self.key_id = "kek_" + hashlib.sha256(key).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"KeyEncryptionKey({self.key_id})"

    @classmethod
    def from_settings(cls, configured: str | None, data_dir: Path) -> KeyEncryptionKey:
        if configured:
            return cls(base64.b64decode(configured))
        path = data_dir / "vault-kek"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        return cls(base64.b64decode(path.read_bytes()))

    def fingerprint(self, data: bytes) -> str:
        return hmac.new(self._fingerprint_key, data, hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated)
        wrap_nonce = os.urandom(NONCE_BYTES)
        wrapped = wrap_nonce + self._aead.encrypt(wrap_nonce, data_key, associated)
        return Sealed(self.key_id, wrapped, ciphertext)

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        if sealed.key_id != self.key_id:
            raise ValueError(f"sealed under {sealed.key_id}, not {self.key_id}")
        wrapped = sealed.wrapped_data_key
        data_key = self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], associated)
        blob = sealed.ciphertext
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
