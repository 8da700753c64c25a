from __future__ import annotations

import datetime as dt

from basketpay.webhooks.delivery import RETRY_SCHEDULE_SECONDS, next_attempt
from basketpay.webhooks.signing import new_secret, sign, signature_header, verify

# The Standard Webhooks specification's published test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID, TIMESTAMP, BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'


def test_signatures_match_the_published_vector() -> None:
    assert sign(SECRET, MESSAGE_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_receiver_accepts_either_secret_during_a_rotation_and_nothing_stale_or_altered() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header([new, old], MESSAGE_ID, TIMESTAMP, BODY)
    assert verify(new, MESSAGE_ID, TIMESTAMP, BODY, header, TIMESTAMP)
    assert verify(old, MESSAGE_ID, TIMESTAMP, BODY, header, TIMESTAMP + 10)
    assert not verify(new, MESSAGE_ID, TIMESTAMP, BODY + b" ", header, TIMESTAMP)
    assert not verify(new, MESSAGE_ID, TIMESTAMP, BODY, header, TIMESTAMP + 301)
    assert not verify(new_secret(), MESSAGE_ID, TIMESTAMP, BODY, header, TIMESTAMP)


def test_retries_span_more_than_a_day_then_stop() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    waits = [next_attempt(done, now) for done in range(1, len(RETRY_SCHEDULE_SECONDS) + 2)]
    assert waits[-1] is None and all(wait is not None and wait > now for wait in waits[:-1])
    assert sum(RETRY_SCHEDULE_SECONDS) * 0.9 > 24 * 3600
