"""Fuzzing the API from its own OpenAPI document with schemathesis: boundary values
(coverage phase), random inputs (fuzzing phase) and chains of calls (stateful phase).
Whatever the input, never a 5xx. The CLI runs it: its pytest plugin does not load
under this pytest. schemathesis_hooks.py gives every call a fresh Idempotency-Key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from basketpay.server import ServerProcess

EXAMPLES_PER_OPERATION_MAX = 30
RUN_TIMEOUT_SECONDS = 300
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


def test_no_input_makes_a_server_error(server: ServerProcess, merchant: tuple[str, str]) -> None:
    command = [
        str(Path(sys.executable).with_name("st")), "run", server.base_url + "/openapi.json",
        "--header", f"Authorization: Bearer {merchant[1]}",
        "--checks", "not_a_server_error",
        "--max-examples", str(EXAMPLES_PER_OPERATION_MAX),
        "--seed", "20261125",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(HOOKS.parent)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "generated" in result.stdout  # it really ran cases
