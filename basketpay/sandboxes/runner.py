"""`basketpay sim`: the sandbox processors (Stripe-compatible, Adyen-compatible, SNAP EBT)
in one process, each on its own port.

It prints one JSON line with each sandbox's base URL once both accept connections,
so a script (the demo, the tests) can start it and read where to point connectors.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api import create_app as create_adyen_app
from basketpay.sandboxes.ebt_api import create_app as create_ebt_app
from basketpay.sandboxes.stripe_api import StripeSandboxConfig
from basketpay.sandboxes.stripe_api import create_app as create_stripe_app
from basketpay.server import terminate

STARTUP_TIMEOUT_SECONDS = 20.0
STARTUP_POLL_SECONDS = 0.02


def _bound_socket(host: str, port: int) -> socket.socket:
    """Bind now (port 0: the OS picks a free one) so the URL is known before serving."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it. Without it a response written in two parts waits
    # for the client's delayed ACK: ~40 ms a request (asyncio sets it only on sockets
    # it creates itself, and these are created here).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))


async def serve_sandboxes(host: str, stripe_port: int, adyen_port: int, stripe: StripeSandboxConfig,
                          adyen: AdyenSandboxConfig, ebt_port: int = 0) -> None:
    sockets = {"stripe": _bound_socket(host, stripe_port), "adyen": _bound_socket(host, adyen_port),
               "ebt": _bound_socket(host, ebt_port)}
    servers = {"stripe": _server(create_stripe_app(stripe)), "adyen": _server(create_adyen_app(adyen)),
               "ebt": _server(create_ebt_app())}
    tasks = [asyncio.create_task(servers[name].serve(sockets=[sockets[name]])) for name in servers]
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not all(server.started for server in servers.values()):
        if time.monotonic() > deadline or any(task.done() for task in tasks):
            raise RuntimeError("the sandboxes did not start")
        await asyncio.sleep(STARTUP_POLL_SECONDS)
    urls = {name: f"http://{host}:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    print(json.dumps(urls), flush=True)
    await asyncio.gather(*tasks)


@dataclass
class SandboxProcesses:
    """`basketpay sim` as a child process, for the demo and the tests."""

    args: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None

    def start(self) -> SandboxProcesses:
        command = [sys.executable, "-m", "basketpay.cli.main", "sim", *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"basketpay sim exited with code {self.process.wait()}")
        self.urls = json.loads(line)
        return self

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
