"""`GET /v1/payment_intents/search`: the subset of Stripe's search language a recovery
job needs to find an intent by its own reference — `metadata['key']:'value'` and
`status:'value'` clauses joined by AND. Stripe's search is eventually consistent;
the sandbox's is immediate."""

from __future__ import annotations

import re

from basketpay.sandboxes.stripe_api.errors import invalid_param
from basketpay.sandboxes.stripe_api.forms import read_int, read_str
from basketpay.sandboxes.stripe_api.handlers import Call, Result
from basketpay.sandboxes.stripe_api.intents import PaymentIntent

SEARCH_LIMIT_DEFAULT = 10  # Stripe's default and maximum page sizes
SEARCH_LIMIT_MAX = 100
QUERY_CLAUSES_MAX = 10
_CLAUSE = re.compile(r"""^\s*(metadata\[['"]([^'"]+)['"]\]|status)\s*:\s*['"]([^'"]*)['"]\s*$""")


def _parse(query: str) -> list[tuple[str | None, str]]:
    """(metadata key or None for status, wanted value) per clause."""
    clauses = re.split(r"\s+AND\s+", query.strip())
    if len(clauses) > QUERY_CLAUSES_MAX:
        raise invalid_param("query", f"A query has at most {QUERY_CLAUSES_MAX} clauses.")
    parsed: list[tuple[str | None, str]] = []
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if match is None:
            raise invalid_param("query", f"The sandbox supports metadata['key']:'value' and status:'value' "
                                f"clauses joined by AND; cannot parse {clause!r}.")
        parsed.append((match.group(2), match.group(3)))
    return parsed


def _matches(intent: PaymentIntent, clauses: list[tuple[str | None, str]]) -> bool:
    for key, wanted in clauses:
        actual = intent.status if key is None else intent.metadata.get(key)
        if actual != wanted:
            return False
    return True


def search_intents(call: Call) -> Result:
    clauses = _parse(read_str(call.params, "query", required=True) or "")
    limit = read_int(call.params, "limit") or SEARCH_LIMIT_DEFAULT
    if limit > SEARCH_LIMIT_MAX:
        raise invalid_param("limit", f"limit must be at most {SEARCH_LIMIT_MAX}.")
    found = [intent for intent in call.store.intents.values() if _matches(intent, clauses)]
    found.sort(key=lambda intent: intent.created, reverse=True)  # Stripe lists newest first
    body = {
        "object": "search_result",
        "data": [intent.to_json() for intent in found[:limit]],
        "has_more": len(found) > limit,
        "next_page": None,  # pagination is not implemented: raise `limit` instead
        "url": "/v1/payment_intents/search",
    }
    return Result(200, body)
