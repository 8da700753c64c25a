from __future__ import annotations

import io
import json

import structlog

from basketpay.observability.logging import configure_logging, redact_text


def test_card_numbers_and_keys_are_masked_in_text() -> None:
    text = redact_text("card 4242 4242 4242 4242 key sk_test_abcDEF123456 order 1234567890123")
    assert "4242 4242 4242 4242" not in text and "[card …4242]" in text
    assert "abcDEF123456" not in text
    assert "1234567890123" in text  # not a Luhn-valid card number: left alone


def test_log_lines_are_json_with_secret_fields_dropped() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    structlog.get_logger("t").info("hello", cvc="123", number="4242424242424242", note="pan 4000000000009995")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["cvc"] == "[redacted]" and line["number"] == "[redacted]"
    assert "4000000000009995" not in line["note"]
