"""Ledger objects as the API shows them. Amounts are positive with a direction, as an
accountant reads them; balances are in the account's normal direction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from basketpay.ledger.posting import Entry

_PHASES = {0: "posted", 1: "pending", 2: "release"}


def _epoch(value: dt.datetime | None) -> int:
    return int((value or dt.datetime.now(dt.UTC)).timestamp())


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def account_json(row: Any) -> dict[str, Any]:
    return {
        "id": _get(row, "id"), "object": "ledger_account", "code": _get(row, "code"),
        "currency": _get(row, "currency"), "type": _get(row, "type"), "normal_balance": _get(row, "normal_balance"),
        "guard": _get(row, "guard"), "status": _get(row, "status"), "owner": _get(row, "owner"),
        "description": _get(row, "description"), "created": _epoch(_get(row, "created_at")),
    }


def balance_json(account: Any, sums: Any, as_of: dt.datetime | None) -> dict[str, Any]:
    """posted: settled; pending: what the balance becomes if every hold posts; available:
    posted less the holds that would reduce it (what a guard protects)."""
    sign = 1 if account.normal_balance == "debit" else -1
    incoming, outgoing = ((sums.pending_debits, sums.pending_credits) if sign == 1
                          else (sums.pending_credits, sums.pending_debits))
    posted = sign * sums.posted
    return {
        "object": "ledger_balance", "account": account.id, "currency": account.currency,
        "as_of": _epoch(as_of) if as_of is not None else None, "posted": posted,
        "pending_incoming": incoming, "pending_outgoing": outgoing, "pending": posted + incoming - outgoing,
        "available": posted - outgoing,
    }


def _posting_json(account: str, currency: str, amount: int, phase: int, bucket: int) -> dict[str, Any]:
    return {"account": account, "currency": currency, "direction": "debit" if amount > 0 else "credit",
            "amount": abs(amount), "signed_amount": amount, "phase": _PHASES[phase], "bucket": bucket}


def entry_json(entry: Any, postings: list[Any] | None = None) -> dict[str, Any]:
    if isinstance(entry, Entry):
        lines = [_posting_json(p.account_id, p.currency, p.amount, p.phase, p.bucket) for p in entry.postings]
        created, merchant, reverses, reversed_by = entry.created_at, entry.merchant_id, entry.reverses_entry_id, None
    else:
        lines = [_posting_json(p.account_id, p.currency, p.amount, p.phase, p.bucket) for p in postings or []]
        created, merchant, reverses = entry.created_at, entry.merchant_id, entry.reverses_entry_id
        reversed_by = getattr(entry, "reversed_by", None)
    return {
        "id": entry.id, "object": "ledger_entry", "kind": entry.kind, "description": entry.description,
        "object_id": entry.object_id, "client_entry_id": entry.client_entry_id, "hold": entry.hold_id,
        "reverses": reverses, "reversed_by": reversed_by, "merchant": merchant, "created": _epoch(created),
        "postings": lines,
    }


def hold_json(row: Any) -> dict[str, Any]:
    amount, posted, released = _get(row, "amount"), _get(row, "posted_amount"), _get(row, "released_amount")
    expires = _get(row, "expires_at")
    return {
        "id": _get(row, "id"), "object": "ledger_hold", "status": _get(row, "status"),
        "currency": _get(row, "currency"), "debit_account": _get(row, "debit_account_id"),
        "credit_account": _get(row, "credit_account_id"), "amount": amount, "posted_amount": posted,
        "released_amount": released, "remaining": amount - posted - released, "object_id": _get(row, "object_id"),
        "expires_at": _epoch(expires) if expires else None, "created": _epoch(_get(row, "created_at")),
    }
