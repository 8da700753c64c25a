"""The vault's key-encryption keys: one active key wraps new data keys; every key ever
active still unwraps, so rotation never makes a stored card unreadable.

Where the keys live: `BASKETPAY_VAULT_KEY_ENCRYPTION_KEY` (one fixed key, no rotation),
or a keyring file `DATA_DIR/vault-keyring.json` (mode 0600) that `basketpay vault
rotate-key` extends. Running services notice a rotation by the file's change time and
reload it, so a new active key reaches every process within one request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from basketpay.vault.crypto import KeyEncryptionKey, Sealed

KEYRING_FILE = "vault-keyring.json"
LEGACY_KEY_FILE = "vault-kek"  # a single key, from before the keyring


class KeyringError(RuntimeError):
    """A key the vault needs is not in the keyring, or the keyring cannot change."""


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


class Keyring:
    def __init__(self, keys: dict[str, KeyEncryptionKey], active: str, fingerprint_key: bytes, path: Path | None) -> None:
        self._keys, self._active, self._fingerprint_key, self._path = keys, active, fingerprint_key, path
        self._loaded_mtime_ns = path.stat().st_mtime_ns if path is not None else 0

    def __repr__(self) -> str:
        return f"Keyring(active={self._active}, keys={sorted(self._keys)})"

    @classmethod
    def from_settings(cls, configured: str | None, data_dir: Path) -> Keyring:
        if configured:
            key = KeyEncryptionKey(base64.b64decode(configured))
            fingerprint = hmac.new(base64.b64decode(configured), b"basketpay card fingerprint v1", hashlib.sha256).digest()
            return cls({key.key_id: key}, key.key_id, fingerprint, None)
        path = data_dir / KEYRING_FILE
        if not path.exists():
            _create_file(path, data_dir / LEGACY_KEY_FILE)
        return cls._load(path)

    @classmethod
    def _load(cls, path: Path) -> Keyring:
        document = json.loads(path.read_text())
        keys = {}
        for encoded in document["keys"]:
            key = KeyEncryptionKey(base64.b64decode(encoded))
            keys[key.key_id] = key
        return cls(keys, document["active"], base64.b64decode(document["fingerprint_key"]), path)

    @property
    def active(self) -> KeyEncryptionKey:
        self._reload_if_changed()
        return self._keys[self._active]

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def key(self, key_id: str) -> KeyEncryptionKey:
        if key_id not in self._keys:
            self._reload_if_changed()
        if key_id not in self._keys:
            raise KeyringError(f"the keyring has no key {key_id}")
        return self._keys[key_id]

    def fingerprint(self, data: bytes) -> str:
        """A keyed hash that stays the same across rotations (it is not a wrapping key)."""
        return hmac.new(self._fingerprint_key, data, hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        return self.active.seal(plaintext, associated)

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        return self.key(sealed.key_id).open(sealed, associated)

    def rewrap(self, sealed: Sealed, associated: bytes) -> Sealed:
        """The same ciphertext, its data key wrapped under the active key instead."""
        data_key = self.key(sealed.key_id).unwrap(sealed.wrapped_data_key, associated)
        return Sealed(self.active.key_id, self.active.wrap(data_key, associated), sealed.ciphertext)

    def rotate(self) -> KeyEncryptionKey:
        """Add a fresh key to the keyring file and make it the active one."""
        if self._path is None:
            raise KeyringError(
                "the vault key comes from BASKETPAY_VAULT_KEY_ENCRYPTION_KEY; rotation needs the keyring file "
                "(unset it and let basketpay keep its keys in the data directory)"
            )
        self._reload_if_changed()
        new = KeyEncryptionKey(AESGCM.generate_key(bit_length=256))
        encoded = [_b64(key.material) for key in self._keys.values()] + [_b64(new.material)]
        _write_file(self._path, {"active": new.key_id, "keys": encoded, "fingerprint_key": _b64(self._fingerprint_key)})
        self._keys[new.key_id], self._active = new, new.key_id
        self._loaded_mtime_ns = self._path.stat().st_mtime_ns
        return new

    def _reload_if_changed(self) -> None:
        if self._path is None or self._path.stat().st_mtime_ns == self._loaded_mtime_ns:
            return
        fresh = Keyring._load(self._path)
        self._keys, self._active, self._loaded_mtime_ns = fresh._keys, fresh._active, fresh._loaded_mtime_ns


def _create_file(path: Path, legacy: Path) -> None:
    material = base64.b64decode(legacy.read_bytes()) if legacy.exists() else AESGCM.generate_key(bit_length=256)
    first = KeyEncryptionKey(material)
    document = {"active": first.key_id, "keys": [_b64(material)], "fingerprint_key": _b64(os.urandom(32))}
    try:
        _write_file(path, document, exclusive=True)
    except FileExistsError:
        pass  # another process created it first: use theirs


def _write_file(path: Path, document: dict[str, Any], exclusive: bool = False) -> None:
    """Write atomically (a temporary file renamed over the old one), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle)
        return
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
