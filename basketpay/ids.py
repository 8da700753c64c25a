"""Object ids: a type prefix (`pi_`, `pm_`, `re_`, `evt_`, ...) and 24 random base62 characters."""

from __future__ import annotations

import os
import string

_ALPHABET = string.ascii_letters + string.digits
ID_RANDOM_LENGTH = 24  # 62**24 ~ 2**143: collisions are not a concern


def _random_base62(length: int) -> str:
    """`length` base62 characters from one read of the OS's CSPRNG (one syscall, not one per character)."""
    # 8 random bits per character where log2(62) ~ 5.95 are used: the modulo bias is negligible.
    number = int.from_bytes(os.urandom(length))
    characters = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        characters.append(_ALPHABET[digit])
    return "".join(characters)


def new_id(prefix: str) -> str:
    return prefix + "_" + _random_base62(ID_RANDOM_LENGTH)


def new_secret(prefix: str, length: int = 32) -> str:
    return prefix + _random_base62(length)
