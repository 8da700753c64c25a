"""Stripe's form encoding: `metadata[order]=1`, `payment_method_types[]=card`,
`expand[0]=x`, `payment_method_data[card][number]=…` into nested dicts and lists,
and typed readers that raise Stripe's 400 naming the parameter."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from basketpay.sandboxes.stripe_api.errors import StripeApiError, invalid_param, missing_param

Params = dict[str, Any]

FORM_FIELDS_MAX = 1000  # a Stripe request has a few dozen; more is abuse, not a payment
AMOUNT_MAX = 99_999_999  # Stripe's largest amount (eight digits) in minor units
KEY_DEPTH_MAX = 5  # the deepest the subset goes is payment_method_options[card][...]
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head] + _KEY_PART.findall("[" + rest) if rest else [head]
    if len(parts) > KEY_DEPTH_MAX or not head:
        raise invalid_param(head or key, f"Invalid parameter name: {key!r}.")
    return parts


def _listify(params: Params) -> Params:
    """Dicts keyed "0", "1", … (the SDK's list encoding) become lists; walked with a stack, no recursion."""
    stack: list[Params] = [params]
    while stack:
        current = stack.pop()
        for key, value in list(current.items()):
            if isinstance(value, dict) and value and all(part.isdigit() for part in value):
                current[key] = [value[part] for part in sorted(value, key=int)]
            elif isinstance(value, dict):
                stack.append(value)
    return params


def parse_form(body: bytes | str) -> Params:
    try:
        text = body.decode() if isinstance(body, bytes) else body
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX)
    except ValueError:  # not UTF-8, or more than FORM_FIELDS_MAX fields
        raise StripeApiError(400, f"The request body must be UTF-8 form data with at most {FORM_FIELDS_MAX} "
                             "fields.") from None
    params: Params = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = params
        for part in parts[:-1]:
            # `name[]` appends: give it the next index, as the SDK's `name[0]` form would
            child = node.setdefault(part or str(len(node)), {})
            if not isinstance(child, dict):
                raise invalid_param(parts[0], f"Invalid parameter structure at {key!r}.")
            node = child
        node[parts[-1] or str(len(node))] = value
    return _listify(params)


def read_str(params: Params, name: str, *, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid_param(name, f"Invalid string: {name} must be a string.")
    if choices and value not in choices:
        raise invalid_param(name, f"Invalid {name}: must be one of {', '.join(choices)}.")
    return value


def read_int(
    params: Params, name: str, *, required: bool = False, minimum: int = 1, maximum: int = AMOUNT_MAX
) -> int | None:
    text = read_str(params, name, required=required)
    if text is None:
        return None
    # length first: int() of a huge digit string is slow, then refused by Python
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
    if not digits or not minimum <= int(text) <= maximum:
        raise invalid_param(name, f"Invalid integer: {name} must be an integer from {minimum} to {maximum}.")
    return int(text)


def read_bool(params: Params, name: str, default: bool) -> bool:
    text = read_str(params, name)
    if text is None:
        return default
    if text not in ("true", "false"):
        raise invalid_param(name, f"Invalid boolean: {text!r}.")
    return text == "true"


def read_dict(params: Params, name: str) -> Params:
    value = params.get(name, {})
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid_param(name, f"Invalid object: {name} must be a hash.")
    return value
