"""Sandbox-only `GET|POST /__sandbox/settlement_faults`, the same for both sandboxes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from basketpay.sandboxes.settlement_faults.parsing import InvalidSettlementFaults, SettlementFault, parse_faults

__all__ = ["SettlementFaults", "settlement_faults_endpoint"]

REQUEST_BODY_BYTES_MAX = 256 * 1024  # room for parsing.FAULTS_MAX faults


@dataclass
class SettlementFaults:
    """One sandbox's injected faults; replaced whole (one assignment), so no lock is needed."""

    faults: tuple[SettlementFault, ...] = ()


def settlement_faults_endpoint(holder: SettlementFaults) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Sandbox-only `GET|POST /__sandbox/settlement_faults`: read, or replace, the faults."""

    async def endpoint(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.body()
            if len(body) > REQUEST_BODY_BYTES_MAX:
                return JSONResponse({"error": f"the body exceeds {REQUEST_BODY_BYTES_MAX} bytes"}, status_code=400)
            try:
                raw = json.loads(body)
            except ValueError as error:  # also bytes that are not UTF-8
                return JSONResponse({"error": f"the body is not JSON: {error}"}, status_code=400)
            try:
                holder.faults = parse_faults(raw)
            except InvalidSettlementFaults as error:
                return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"faults": [fault.to_json() for fault in holder.faults]})

    return endpoint
