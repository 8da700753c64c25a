"""Reading routing configuration from JSON-shaped data: each helper checks one field and
names it by its path (`rules[3].conditions.bin_ranges[0]`) when it is wrong.

Unknown fields are refused, not ignored: a misspelt condition that was silently dropped
would turn a narrow rule into one that matches every payment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NoReturn

__all__ = [
    "FUNDINGS", "InvalidRoutingConfig", "boolean", "country_code", "fail", "fields", "integer", "items", "names",
    "share", "text",
]

FUNDINGS = frozenset({"credit", "debit", "prepaid"})  # of a card, as the vault records it
_COUNTRY = re.compile(r"[A-Z]{2}")
NAMES_MAX = 1_000  # in one list: brands, countries, merchants, ...


class InvalidRoutingConfig(ValueError):
    """A routing configuration that cannot be used; the message starts with the field's path."""


def fail(path: str, message: str) -> NoReturn:
    raise InvalidRoutingConfig(f"{path}: {message}")


def fields(value: Any, path: str, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
           ) -> Mapping[str, Any]:
    """An object with only `allowed` keys, all of `required` among them."""
    if not isinstance(value, Mapping):
        fail(path, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        fail(path, f"unknown field(s) {unknown}; expected some of {sorted(allowed)}")
    missing = sorted(required - set(value))
    if missing:
        fail(path, f"missing field(s) {missing}")
    return value


def items(value: Any, path: str, count_max: int, empty_ok: bool = False) -> list[Any]:
    """A bounded list, non-empty unless `empty_ok`: an empty set in a rule's condition is a
    mistake (the rule could never match), an empty list of rules or overrides is not."""
    if not isinstance(value, list) or (not value and not empty_ok) or len(value) > count_max:
        fail(path, f"must be a {'' if empty_ok else 'non-empty '}list of at most {count_max}")
    return value


def text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(path, "must be a non-empty string")
    return value.strip()


def names(value: Any, path: str, fold: Callable[[str], str] = str.strip, allowed: AbstractSet[str] | None = None,
          count_max: int = NAMES_MAX) -> tuple[str, ...]:
    """Distinct non-empty strings in their given order, folded (e.g. to the case the model uses)."""
    result: list[str] = []
    for index, item in enumerate(items(value, path, count_max)):
        name = fold(text(item, f"{path}[{index}]"))
        if allowed is not None and name not in allowed:
            fail(f"{path}[{index}]", f"{name!r} is not one of {sorted(allowed)}")
        if name in result:
            fail(f"{path}[{index}]", f"{name!r} is listed twice")
        result.append(name)
    return tuple(result)


def country_code(value: Any, path: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case as AttemptContext carries it: "de" is "DE"."""
    code = text(value, path).upper()
    if not _COUNTRY.fullmatch(code):
        fail(path, f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def integer(value: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int:
    # bool is an int in Python; `true` for an amount is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, "must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        fail(path, f"must be at least {minimum}" + ("" if maximum is None else f" and at most {maximum}"))
    return value


def share(value: Any, path: str) -> float:
    """A probability: a number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        fail(path, "must be a number from 0 to 1")
    return float(value)


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        fail(path, "must be true or false")
    return value
