"""A CPU-cheap load generator for the payment flow: create → confirm → capture.

It runs in a process of its own (the benchmark machine has two cores shared with
the API server and PostgreSQL), on one event loop, with one keep-alive connection
per client, and speaks just enough HTTP/1.1 for this API. httpx is not used: it
costs about 1 ms of CPU a request, which would be taken from the server.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

OPERATIONS = ("create", "confirm", "capture")
CONNECT_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAY_SECONDS = 0.1
DRAIN_TIMEOUT_SECONDS = 10.0  # how long a request may run past the window before it is cancelled
CHUNKS_MAX = 1_000
ERROR_SAMPLES_MAX = 10
ERROR_BODY_BYTES_MAX = 300
AMOUNT_MINOR = 1999


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
    cpu_seconds: float


class ProtocolError(Exception):
    """The response is not HTTP/1.1 as this client understands it."""


def parse_head(head: bytes) -> tuple[int, int, bool, bool]:
    """Status line and headers → (status, content length, chunked, connection close)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 "):
        raise ProtocolError(f"unexpected status line {lines[0][:80]!r}")
    status, length, chunked, close = int(lines[0][9:12]), 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    for _ in range(CHUNKS_MAX):
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, bounded by the stream limit
                pass
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])
    raise ProtocolError(f"more than {CHUNKS_MAX} chunks in one response")


class HttpConnection:
    """One persistent HTTP/1.1 connection; reopened on demand after the server closes it."""

    def __init__(self, host: str, port: int, secret_key: str) -> None:
        self._host, self._port = host, port
        self._headers = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {secret_key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        connecting = asyncio.open_connection(self._host, self._port)
        self._reader, self._writer = await asyncio.wait_for(connecting, CONNECT_TIMEOUT_SECONDS)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, path: str, body: bytes, idempotency_key: str) -> tuple[int, bytes]:
        if self._writer is None:
            await self.open()
        assert self._reader is not None and self._writer is not None  # for mypy: open() set them
        self._writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._headers
            + b"Idempotency-Key: " + idempotency_key.encode()
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        status, length, chunked, close = parse_head(await self._reader.readuntil(b"\r\n\r\n"))
        response = await (read_chunked(self._reader) if chunked else self._reader.readexactly(length))
        if close:
            self.close()
        return status, response


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
                except (TimeoutError, OSError, EOFError, ValueError, asyncio.LimitOverrunError, ProtocolError) as error:
                    self._recorder.error(f"connection: {error!r}")  # IncompleteReadError is an EOFError
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
        status, response = await self._connection.post(path, body, self._key_prefix + str(next(self._key_numbers)))
        finished = time.perf_counter()
        if status != 200:
            self._recorder.error(f"{operation}: HTTP {status}: {response[:ERROR_BODY_BYTES_MAX].decode(errors='replace')}")
            return None
        intent: dict[str, Any] = orjson.loads(response)
        if intent.get("status") != expected_status:
            self._recorder.error(f"{operation}: status {intent.get('status')!r}, expected {expected_status!r}")
            return None
        if self._recorder.in_window(finished):
            self._recorder.latencies_seconds[operation].append(finished - started)
        return intent


async def cpu_seconds_in_window(recorder: Recorder) -> float:
    await asyncio.sleep(recorder.window_start - time.perf_counter())
    cpu_start = time.process_time()
    await asyncio.sleep(recorder.window_end - time.perf_counter())
    return time.process_time() - cpu_start


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
    recorder = Recorder(0.0, 0.0)
    clients = [Client(config, recorder, f"bench-{run_id}-{number}-") for number in range(config.clients)]
    await asyncio.gather(*(client.open() for client in clients))
    recorder.window_start = time.perf_counter() + config.warmup_seconds
    recorder.window_end = recorder.window_start + config.duration_seconds
    tasks = [asyncio.create_task(client.run()) for client in clients]
    cpu_seconds = await cpu_seconds_in_window(recorder)
    await drain(tasks, recorder)
    return LoadResult(
        recorder.latencies_seconds, recorder.payments, recorder.errors, recorder.error_samples,
        config.duration_seconds, cpu_seconds,
    )


def run_load(config: LoadConfig) -> LoadResult:
    """The entry point of the load process."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(generate_load(config))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(generate_load(config))
