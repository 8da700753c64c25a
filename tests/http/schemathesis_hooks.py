"""Schemathesis hooks for test_fuzz.py: a fresh Idempotency-Key on every generated call,
so the fuzzer exercises the operations instead of replaying the first response."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    case.headers = {**(case.headers or {}), "Idempotency-Key": uuid.uuid4().hex}
