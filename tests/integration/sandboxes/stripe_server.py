"""A Stripe sandbox served by uvicorn on a free port in a background thread, and an
official `stripe` SDK client pointed at it (unmodified: only the base address changes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import stripe
import uvicorn
from starlette.applications import Starlette

from basketpay.sandboxes.stripe_api import StripeSandboxConfig, create_app
from basketpay.server import free_port

STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def running_sandbox(config: StripeSandboxConfig | None = None, app: Starlette | None = None) -> Iterator[str]:
    """Pass `app` to inspect its state (`app.state.sandbox`) while it serves."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app or create_app(config), host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Stripe sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)


def sdk_client(base_url: str, api_key: str = "sk_test_123") -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": base_url}, http_client=stripe.HTTPXClient(allow_sync_methods=True))


def raw_post(base_url: str, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    auth = {"Authorization": "Bearer sk_test_123", **(headers or {})}
    return httpx.post(base_url + path, data=data, headers=auth)
