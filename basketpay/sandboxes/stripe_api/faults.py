"""Faults the Stripe-compatible sandbox can inject, as a real processor's network and
servers do, so basketpay's recovery is tested against them:

- `error_rate`: a 500 before anything is done (the request had no effect);
- `reply_lost_rate`: the request is carried out and committed, then the connection
  is dropped mid-response (the client cannot know it happened);
- `latency_ms`: a delay before every answer;
- `outage`: every request gets a 503 until it is switched off.

Set them with `POST /__sandbox/faults` (JSON) and read them with `GET`. Draws come
from a seeded generator, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

RATE_FIELDS = ("error_rate", "reply_lost_rate")


@dataclass
class Faults:
    error_rate: float = 0.0
    reply_lost_rate: float = 0.0
    latency_ms: int = 0
    outage: bool = False
    seed: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name not in ("error_rate", "reply_lost_rate", "latency_ms", "outage", "seed"):
                raise ValueError(f"unknown fault {name!r}")
            if name in RATE_FIELDS and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(self, name, value)
        self._random.seed(self.seed)

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


class DroppedReply(Response):
    """Starts the response, then fails: the server closes the connection mid-reply."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100000")]})
        raise ConnectionAbortedError("sandbox fault: reply lost after the request was carried out")


async def faults_endpoint(request: Request) -> Response:
    faults: Faults = request.app.state.sandbox.faults
    if request.method == "POST":
        try:
            faults.update(json.loads(await request.body() or b"{}"))
        except (ValueError, TypeError) as error:
            return Response(json.dumps({"error": str(error)}), status_code=400, media_type="application/json")
    return Response(json.dumps(faults.public()), media_type="application/json")
