"""Turning every failure into the documented error body; no bad input ever becomes a 5xx."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from basketpay.errors import BasketpayError, InvalidRequest, NotFound, ProcessorUnavailable, RateLimited

log = structlog.get_logger(__name__)


class ErrorDetail(BaseModel):
    type: str
    code: str | None = None
    decline_code: str | None = None
    message: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _param(location: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    if not parts:
        return None
    return parts[0] + "".join(f"[{part}]" for part in parts[1:])


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return InvalidRequest("The request body is not valid JSON.", code="body_malformed")
    param = _param(tuple(first.get("loc", ())))
    if kind == "missing":
        message = f"Missing required param: {param}." if param else "A JSON request body is required."
        return InvalidRequest(message, code="parameter_missing", param=param)
    if kind == "extra_forbidden":
        return InvalidRequest(f"Received unknown parameter: {param}.", code="parameter_unknown", param=param)
    message = str(first.get("msg", "Invalid value"))
    return InvalidRequest(f"Invalid {param}: {message}.", code="parameter_invalid", param=param)


def json_response(body: Any, status_code: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json")


def _response(error: BasketpayError) -> Response:
    headers = {"Retry-After": "1"} if isinstance(error, RateLimited | ProcessorUnavailable) else None
    return json_response(error.body(), error.status_code, headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BasketpayError)
    async def basketpay_error(_: Request, exc: BasketpayError) -> Response:
        return _response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        return _response(validation_error(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _response(NotFound("Unrecognized request URL.", code="resource_missing"))
        if exc.status_code == 405:
            error = InvalidRequest("This method is not allowed on this URL.", code="method_not_allowed")
            return json_response(error.body(), 405)
        return _response(InvalidRequest(str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", error=type(exc).__name__)
        body = {"error": {"type": "api_error", "code": None, "decline_code": None,
                          "message": "An internal error occurred.", "param": None}}
        return json_response(body, 500)
