"""Object ids: a type prefix (`pi_`, `pm_`, `re_`, `evt_`, ...) and 24 random base62 characters."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_RANDOM_LENGTH = 24


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(ID_RANDOM_LENGTH))


def new_secret(prefix: str, length: int = 32) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))
