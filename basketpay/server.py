"""Starting the API server: in this process (`basketpay serve`) or as a child process
(the demo, the tests and the benchmark), always against a migrated database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from basketpay.db.migrate import migrate
from basketpay.settings import get_settings

STARTUP_TIMEOUT_SECONDS = 30.0


def run_server(host: str, port: int, workers: int, sweeper: bool, worker: bool = False) -> None:
    import uvicorn

    settings = get_settings()
    url = migrate(settings)
    # Child worker processes must join this database, not start their own.
    os.environ["BASKETPAY_DATABASE_URL"] = url
    os.environ["BASKETPAY_RUN_SWEEPER"] = "1" if sweeper else "0"
    if worker:
        if workers > 1:
            raise SystemExit("--worker runs one order-workflow worker in the server: use it with --workers 1, "
                             "or run `basketpay worker` processes beside the server.")
        # One executor id per (host, port): stable across restarts, so DBOS recovers its workflows.
        settings_id = get_settings().workflow_executor_id
        os.environ["BASKETPAY_WORKFLOW_EXECUTOR_ID"] = settings_id or f"serve-{socket.gethostname()}-{port}"
    os.environ["BASKETPAY_RUN_WORKER"] = "1" if worker else "0"
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="basketpay-metrics-")
    uvicorn.run(
        "basketpay.server:app_factory", factory=True, host=host, port=port, workers=workers,
        log_config=None, access_log=False, loop="uvloop", http="httptools",
    )


def app_factory():  # type: ignore[no-untyped-def]
    from basketpay.api.app import create_app
    from basketpay.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    worker = os.environ.get("BASKETPAY_RUN_WORKER", "0") == "1"
    return create_app(settings, run_sweeper=os.environ.get("BASKETPAY_RUN_SWEEPER", "1") == "1",
                      worker_executor_id=os.environ.get("BASKETPAY_WORKFLOW_EXECUTOR_ID") if worker else None)


STOP_TIMEOUT_SECONDS = 10.0


def terminate(process: subprocess.Popen[Any]) -> None:
    """Ask a child process to stop (SIGTERM: a clean shutdown), and kill it if it does not."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """An API server in a child process, for the demo, the tests and the benchmark."""

    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    worker: bool = False  # run an order-workflow worker in the server process
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {**os.environ, **self.env, "BASKETPAY_DATABASE_URL": self.database_url}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "basketpay.cli.main", "serve", "--port", str(self.port),
             "--workers", str(self.workers), "--worker" if self.worker else "--no-worker"],
            env=env, stdout=log, stderr=log,
        )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the API server exited with code {self.process.returncode}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the API server did not become ready in time")

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
