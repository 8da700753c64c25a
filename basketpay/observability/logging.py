"""Structured JSON logs with a request id, and a redaction step every line passes through.

The redaction is the last line of defence, not the first: code never logs card
data on purpose. It masks anything shaped like a card number (13-19 digits passing
Luhn), any secret key (`sk_test_…`, `sk_live_…`, `whsec_…`), and drops fields whose
names say they hold secrets. Third-party loggers (uvicorn, SQLAlchemy) go through
the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from basketpay.vault.cards import luhn_valid

_CARD_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_SECRET = re.compile(r"\b(sk_(?:test|live)_|whsec_|rk_(?:test|live)_)[A-Za-z0-9]+")
_SECRET_FIELDS = frozenset({"cvc", "cvv", "number", "card_number", "pan", "secret", "secret_key", "authorization", "password"})


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return f"[card …{digits[-4:]}]"
    return match.group(0)


def redact_text(text: str) -> str:
    text = _SECRET.sub(lambda m: m.group(1) + "[redacted]", text)
    return _CARD_NUMBER.sub(_mask_card, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: ("[redacted]" if k.lower() in _SECRET_FIELDS else _redact_value(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return _redact_value(event_dict)  # type: ignore[no-any-return]


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    structlog.configure(
        # filter_by_level first: a line below the level costs nothing more than the check.
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
