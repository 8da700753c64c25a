"""An always-on invariant check: `assert` disappears under `python -O`; money code must not."""

from __future__ import annotations


class InvariantViolation(AssertionError):
    """A condition the code relies on does not hold: a bug, never bad input."""


def invariant(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)
