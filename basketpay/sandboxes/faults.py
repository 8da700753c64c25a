"""Faults a sandbox processor can inject, as a real processor's network and servers
do, so basketpay's recovery is tested against them. Shared by both sandboxes.

API faults, drawn once per POST:
- `error_rate`: a 500 before anything is done (the request had no effect);
- `reply_lost_rate`: the request is carried out and committed, then the connection
  is dropped mid-response (the client cannot know it happened);
- `latency_ms`: a delay before every answer;
- `outage`: every request gets a 503 until it is switched off.

Webhook faults, applied by each sandbox's webhook sender:
- `webhook_delay_ms`: each delivery is held this long first;
- `webhook_duplicate_rate`: a delivery is sent a second time, identical;
- `webhook_reorder`: up to `webhook_reorder_window` queued deliveries are held
  (at most `REORDER_WAIT_MS_MAX`) and released in a shuffled order.

Set them with `POST /__sandbox/faults` (JSON) and read them with `GET`. Draws come
from generators seeded with `seed` (one for requests, one for webhooks, so turning
on a webhook fault does not change which requests fail), so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["DroppedReply", "Faults", "faults_endpoint", "faults_endpoint_for", "take_deliveries"]

RATE_FIELDS = ("error_rate", "reply_lost_rate", "webhook_duplicate_rate")
FIELDS = ("error_rate", "reply_lost_rate", "latency_ms", "outage", "seed",
          "webhook_delay_ms", "webhook_duplicate_rate", "webhook_reorder", "webhook_reorder_window")
REORDER_WINDOW_MAX = 100
REORDER_WAIT_MS_MAX = 200  # how long a partly filled window waits for more deliveries
WEBHOOK_SEED_OFFSET = 1  # the webhook generator's seed is `seed + 1`
T = TypeVar("T")


@dataclass
class Faults:
    error_rate: float = 0.0
    reply_lost_rate: float = 0.0
    latency_ms: int = 0
    outage: bool = False
    seed: int = 0
    webhook_delay_ms: int = 0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    webhook_reorder_window: int = 4
    _random: random.Random = field(default_factory=random.Random, repr=False)
    _webhook_random: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name not in FIELDS:
                raise ValueError(f"unknown fault {name!r}")
            if name in RATE_FIELDS and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            if name == "webhook_reorder_window" and not 1 <= int(value) <= REORDER_WINDOW_MAX:
                raise ValueError(f"webhook_reorder_window must be between 1 and {REORDER_WINDOW_MAX}")
            setattr(self, name, value)
        self._random.seed(self.seed)
        self._webhook_random.seed(self.seed + WEBHOOK_SEED_OFFSET)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def draw(self) -> str | None:
        """Which fault (if any) this request gets: 'error', 'reply_lost' or None."""
        roll = self._random.random()
        if roll < self.error_rate:
            return "error"
        if roll < self.error_rate + self.reply_lost_rate:
            return "reply_lost"
        return None

    async def delay(self) -> None:
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)

    def copies(self) -> int:
        """How many times to send one delivery: 2 for a duplicate, else 1."""
        return 2 if self._webhook_random.random() < self.webhook_duplicate_rate else 1

    def shuffle(self, deliveries: list[Any]) -> None:
        self._webhook_random.shuffle(deliveries)

    async def webhook_hold(self) -> None:
        if self.webhook_delay_ms > 0:
            await asyncio.sleep(self.webhook_delay_ms / 1000)


async def take_deliveries(queue: asyncio.Queue[T], faults: Faults) -> list[T]:
    """The next deliveries to send, in the order to send them: one, or with
    `webhook_reorder` a window of up to `webhook_reorder_window`, shuffled."""
    taken = [await queue.get()]
    if not faults.webhook_reorder:
        return taken
    deadline = time.monotonic() + REORDER_WAIT_MS_MAX / 1000
    while len(taken) < faults.webhook_reorder_window:
        try:
            taken.append(await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic())))
        except TimeoutError:
            break
    faults.shuffle(taken)
    return taken


class DroppedReply(Response):
    """Starts the response, then fails: the server closes the connection mid-reply."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100000")]})
        raise ConnectionAbortedError("sandbox fault: reply lost after the request was carried out")


def faults_endpoint_for(faults: Faults) -> Callable[[Request], Awaitable[Response]]:
    """`GET`/`POST /__sandbox/faults` for one sandbox's faults."""
    async def endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                faults.update(json.loads(await request.body() or b"{}"))
            except (ValueError, TypeError) as error:
                return Response(json.dumps({"error": str(error)}), status_code=400, media_type="application/json")
        return Response(json.dumps(faults.public()), media_type="application/json")
    return endpoint


async def faults_endpoint(request: Request) -> Response:
    """The same, for an app whose `state.sandbox.faults` holds them (the Stripe sandbox)."""
    return await faults_endpoint_for(request.app.state.sandbox.faults)(request)
