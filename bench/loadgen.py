"""A CPU-cheap load generator for the payment flow: create → confirm → capture.

It runs in a process of its own (the benchmark machine has two cores shared with
the API server and PostgreSQL), on one event loop, with one keep-alive connection
per client (see http11.py).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
import psutil
from http11 import HttpConnection, ProtocolError

OPERATIONS = ("create", "confirm", "capture")
RECONNECT_DELAY_SECONDS = 0.1
DRAIN_TIMEOUT_SECONDS = 10.0  # how long a request may run past the window before it is cancelled
ERROR_SAMPLES_MAX = 10
PROCESS_EXIT_TIMEOUT_SECONDS = 5.0
ERROR_BODY_BYTES_MAX = 300
AMOUNT_MINOR = 1999
# IncompleteReadError is an EOFError; a body that is not JSON raises a ValueError.
CONNECTION_ERRORS = (TimeoutError, OSError, EOFError, ValueError, asyncio.LimitOverrunError, ProtocolError)


@dataclass(frozen=True, slots=True)
class LoadConfig:
    host: str
    port: int
    secret_key: str
    payment_method: str
    clients: int
    warmup_seconds: float
    duration_seconds: float


@dataclass(slots=True)
class LoadResult:
    """What happened inside the measured window (errors: over the whole run, warm-up included)."""

    latencies_seconds: dict[str, list[float]]
    payments: int
    errors: int
    error_samples: list[str]
    window_seconds: float
    cpu_seconds: float  # this load generator's own
    machine_busy_seconds: float  # every process on the machine (the server, PostgreSQL, Redis, this one)


@dataclass(slots=True)
class Recorder:
    window_start: float
    window_end: float
    latencies_seconds: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    payments: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def in_window(self, moment: float) -> bool:
        return self.window_start <= moment <= self.window_end

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES_MAX:
            self.error_samples.append(message)


class Client:
    """Runs payments back to back on one connection until the window ends."""

    def __init__(self, config: LoadConfig, recorder: Recorder, key_prefix: str) -> None:
        self._connection = HttpConnection(config.host, config.port, config.secret_key)
        self._recorder = recorder
        self._key_prefix = key_prefix
        self._key_numbers = itertools.count()
        self._create_body = orjson.dumps({
            "amount": AMOUNT_MINOR, "currency": "usd", "capture_method": "manual",
            "payment_method": config.payment_method,
        })

    async def open(self) -> None:
        await self._connection.open()

    async def run(self) -> None:
        try:
            while time.perf_counter() < self._recorder.window_end:
                try:
                    await self.payment()
                except CONNECTION_ERRORS as error:
                    self._recorder.error(f"connection: {error!r}")
                    self._connection.close()
                    await asyncio.sleep(RECONNECT_DELAY_SECONDS)
        finally:
            self._connection.close()

    async def payment(self) -> None:
        intent = await self.step("create", "/v1/payment_intents", self._create_body, "requires_confirmation")
        if intent is None:
            return
        path = "/v1/payment_intents/" + intent["id"]
        if await self.step("confirm", path + "/confirm", b"{}", "requires_capture") is None:
            return
        if await self.step("capture", path + "/capture", b"{}", "succeeded") is None:
            return
        if self._recorder.in_window(time.perf_counter()):
            self._recorder.payments += 1

    async def step(self, operation: str, path: str, body: bytes, expected_status: str) -> dict[str, Any] | None:
        """One request; None when the window is over or the request failed (recorded)."""
        if time.perf_counter() >= self._recorder.window_end:
            return None
        started = time.perf_counter()
        idempotency_key = self._key_prefix + str(next(self._key_numbers))
        status, response = await self._connection.post(path, body, idempotency_key)
        finished = time.perf_counter()
        if status != 200:
            text = response[:ERROR_BODY_BYTES_MAX].decode(errors="replace")
            self._recorder.error(f"{operation}: HTTP {status}: {text}")
            return None
        intent: dict[str, Any] = orjson.loads(response)
        if intent.get("status") != expected_status:
            self._recorder.error(f"{operation}: status {intent.get('status')!r}, expected {expected_status!r}")
            return None
        if self._recorder.in_window(finished):
            self._recorder.latencies_seconds[operation].append(finished - started)
        return intent


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy since boot (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return float(sum(times)) - times.idle - getattr(times, "iowait", 0.0)


async def cpu_seconds_in_window(recorder: Recorder) -> tuple[float, float]:
    """(this process's CPU seconds, the machine's busy CPU seconds) within the window."""
    await asyncio.sleep(recorder.window_start - time.perf_counter())
    cpu_start, busy_start = time.process_time(), machine_busy_seconds()
    await asyncio.sleep(recorder.window_end - time.perf_counter())
    return time.process_time() - cpu_start, machine_busy_seconds() - busy_start


async def drain(tasks: list[asyncio.Task[None]], recorder: Recorder) -> None:
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_SECONDS)
    for task in pending:
        task.cancel()
        recorder.error(f"a client was still waiting {DRAIN_TIMEOUT_SECONDS:.0f} s after the window ended")
    for task in done:
        if task.exception() is not None:
            recorder.error(f"client crashed: {task.exception()!r}")


async def generate_load(config: LoadConfig) -> LoadResult:
    run_id = uuid.uuid4().hex[:12]
    recorder = Recorder(0.0, 0.0)  # the window is set once every connection is open
    clients = [Client(config, recorder, f"bench-{run_id}-{number}-") for number in range(config.clients)]
    await asyncio.gather(*(client.open() for client in clients))
    recorder.window_start = time.perf_counter() + config.warmup_seconds
    recorder.window_end = recorder.window_start + config.duration_seconds
    tasks = [asyncio.create_task(client.run()) for client in clients]
    cpu_seconds, busy_seconds = await cpu_seconds_in_window(recorder)
    await drain(tasks, recorder)
    return LoadResult(
        recorder.latencies_seconds, recorder.payments, recorder.errors, recorder.error_samples,
        config.duration_seconds, cpu_seconds, busy_seconds,
    )


def run_load(config: LoadConfig) -> LoadResult:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(generate_load(config))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(generate_load(config))


def _load_process_main(config: LoadConfig, results: Connection) -> None:
    results.send(run_load(config))
    results.close()


def run_load_in_process(config: LoadConfig, timeout_seconds: float) -> LoadResult:
    """Run the load in a process of its own, so it shares no GIL with anything else.

    Spawned, not forked: it inherits no database connections or threads. A load that
    overruns `timeout_seconds` is terminated, not waited for.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_load_process_main, args=(config, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_seconds):
            raise RuntimeError(f"the load generator did not finish within {timeout_seconds:.0f} s")
        result: LoadResult = receiver.recv()  # EOFError if the process died
        return result
    finally:
        process.join(timeout=PROCESS_EXIT_TIMEOUT_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join()
