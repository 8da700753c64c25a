"""The ledger's operations for the API: accounts, entries (one or many, idempotent by
the client's entry id), reversals, holds, balances (now or as of a time) and lists.

Every write is one phase-one plan run by `PhaseRunner.execute`, so each POST honours
its Idempotency-Key and is one statement: all of it is written or none of it. The
database has the last word on the money rules (tables.py); its refusals become 4xx.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from psycopg import AsyncConnection, errors

from basketpay.db.pagination import fetch_page
from basketpay.db.statements import MERCHANT_SCOPE
from basketpay.errors import Conflict, InvalidRequest, NotFound
from basketpay.idempotency.keys import KeyRequest, StoredResponse
from basketpay.ids import new_id
from basketpay.ledger import chart, schemas
from basketpay.ledger.chart import NORMAL_BALANCE
from basketpay.ledger.posting import Entry, Posting, hold, hold_bucket, release, transfer
from basketpay.ledger.serializers import account_json, balance_json, entry_json, hold_json
from basketpay.ledger.snapshots import BALANCE_AS_OF
from basketpay.ledger.tables import (
    PHASE_POSTED,
    ledger_accounts,
    ledger_balances,
    ledger_entries,
    ledger_holds,
    ledger_postings,
)
from basketpay.payments.phases import PhaseRunner, Plan, RequestContext, utc_now

_ACCOUNTS = "SELECT * FROM ledger_accounts WHERE merchant_id = %(merchant_id)s AND id = ANY(%(ids)s)"
_BALANCE = """
SELECT coalesce(sum(posted), 0)::bigint AS posted, coalesce(sum(pending_debits), 0)::bigint AS pending_debits,
       coalesce(sum(pending_credits), 0)::bigint AS pending_credits FROM ledger_balances WHERE account_id = %(id)s"""

_EXISTING_CLIENT_IDS = """
SELECT id, client_entry_id, content_digest FROM ledger_entries
WHERE merchant_id = %(merchant_id)s AND client_entry_id = ANY(%(ids)s)"""
_ENTRIES = """
SELECT e.*, (SELECT r.id FROM ledger_entries r WHERE r.reverses_entry_id = e.id) AS reversed_by
FROM ledger_entries e WHERE e.id = ANY(%(ids)s)"""
_POSTINGS_OF = "SELECT * FROM ledger_postings WHERE entry_id = ANY(%(ids)s) ORDER BY id"


def _ok(body: Any) -> StoredResponse:
    return StoredResponse(200, orjson.dumps(body))


@contextmanager
def database_refusals() -> Iterator[None]:
    """What the database refuses, as the client's error: nothing was written."""
    try:
        yield
    except errors.CheckViolation as error:
        constraint = error.diag.constraint_name or ""
        if "available_not_negative" in constraint:
            raise Conflict("This would take an account's available balance below zero.",
                           code="balance_insufficient") from error
        raise Conflict(f"The ledger refused the write ({constraint}).", code="ledger_rule_violated") from error
    except errors.UniqueViolation as error:
        raise Conflict("That object exists already (or was written concurrently); retry to read it.",
                       code="resource_exists") from error


class LedgerService:
    def __init__(self, runner: PhaseRunner) -> None:
        self._runner = runner
        self.database = runner.database

    async def _run(self, context: RequestContext, phase_one: Any) -> StoredResponse:
        with database_refusals():
            return await self._runner.execute(context, phase_one)

    # -- accounts ----------------------------------------------------------------------------------
    async def create_account(self, context: RequestContext, params: schemas.AccountCreate) -> StoredResponse:
        spec = chart.spec_for(params.code, self._runner.connectors.names())
        if spec is not None:
            return await self._chart_account(context, params, spec)

        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            normal = NORMAL_BALANCE[params.type]
            row = {"id": new_id("la"), "merchant_id": context.merchant_id, "code": params.code,
                   "currency": params.currency, "type": params.type, "normal_balance": normal,
                   "guard": params.guard, "buckets": 1, "status": "open", "owner": params.owner,
                   "description": params.description, "created_at": utc_now()}
            balance = {"account_id": row["id"], "bucket": 0, "merchant_id": context.merchant_id,
                       "currency": params.currency, "normal_balance": normal, "guard": params.guard}
            return Plan(response=_ok(account_json(row)), inserts=[(ledger_accounts, row), (ledger_balances, balance)])

        return await self._run(context, phase_one)

    async def _chart_account(self, context: RequestContext, params: schemas.AccountCreate,
                             spec: chart.AccountSpec) -> StoredResponse:
        """A code of the chart of accounts names the chart's own account (the one the payments
        core posts to): the chart is provisioned in that currency and that account returned."""
        if params.type != spec.type or params.guard != "none":
            raise InvalidRequest(f"{params.code} is in the chart of accounts as an unguarded {spec.type} account.",
                                 param="type" if params.type != spec.type else "guard", code="chart_account_mismatch")
        await self._runner.ensure_chart(context.merchant_id, params.currency)

        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            identifier = chart.account_id(context.merchant_id, params.code, params.currency)
            return Plan(response=_ok(account_json(await self.account(connection, context.merchant_id, identifier))))

        return await self._run(context, phase_one)

    async def list_accounts(self, merchant_id: str, page: Any, filters: dict[str, Any]) -> tuple[list[Any], bool]:
        async with self.database.connection() as connection:
            rows, has_more = await fetch_page(connection, ledger_accounts, merchant_id, page, filters)
        return [account_json(row) for row in rows], has_more

    async def accounts(self, connection: AsyncConnection[Any], merchant_id: str, ids: Sequence[str]) -> dict[str, Any]:
        rows = await (await connection.execute(_ACCOUNTS, {"merchant_id": merchant_id, "ids": list(ids)})).fetchall()
        return {row.id: row for row in rows}

    async def account(self, connection: AsyncConnection[Any], merchant_id: str, account_id: str) -> Any:
        found = (await self.accounts(connection, merchant_id, [account_id])).get(account_id)
        if found is None:
            raise NotFound(f"No such ledger account: {account_id!r}.", param="account")
        return found

    async def balance(self, merchant_id: str, account_id: str, as_of: dt.datetime | None) -> dict[str, Any]:
        async with self.database.connection() as connection:
            account = await self.account(connection, merchant_id, account_id)
            query, params = (_BALANCE, {"id": account_id}) if as_of is None else (
                BALANCE_AS_OF, {"id": account_id, "as_of": as_of})
            sums = await (await connection.execute(query, params)).fetchone()
        return balance_json(account, sums, as_of)

    # -- entries -----------------------------------------------------------------------------------
    async def post_entries(self, context: RequestContext, requested: Sequence[schemas.EntryCreate]) -> StoredResponse:
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            ids = sorted({posting.account for entry in requested for posting in entry.postings})
            accounts = await self.accounts(connection, context.merchant_id, ids)
            entries = [self._entry(context.merchant_id, accounts, index, entry) for index, entry in enumerate(requested)]
            existing = await self._existing(connection, context.merchant_id, entries)
            fresh = [entry for entry in entries if entry.client_entry_id not in existing]
            plan = _entries_plan(fresh)
            shown = [existing.get(entry.client_entry_id, entry.id) if entry.client_entry_id else entry.id
                     for entry in entries]
            plan.response = _ok(await self._entries_body(connection, shown, fresh))
            return plan

        return await self._run(context, phase_one)

    def _entry(self, merchant_id: str, accounts: dict[str, Any], index: int, params: schemas.EntryCreate) -> Entry:
        postings = []
        for number, line in enumerate(params.postings):
            account = _open_account(accounts, line.account, f"entries[{index}].postings[{number}].account")
            amount = line.amount if line.direction == "debit" else -line.amount
            postings.append(Posting(account.id, account.currency, amount, PHASE_POSTED, random.randrange(account.buckets)))
        entry = Entry(merchant_id, params.kind, postings, description=params.description, object_id=params.object_id,
                      client_entry_id=params.client_entry_id)
        _require_balanced(entry, f"entries[{index}].postings")
        return entry

    async def _existing(self, connection: AsyncConnection[Any], merchant_id: str, entries: list[Entry]) -> dict[str, str]:
        """client_entry_id → id of entries already written with the same content (else a Conflict)."""
        wanted = {entry.client_entry_id: entry for entry in entries if entry.client_entry_id}
        if len(wanted) < sum(1 for entry in entries if entry.client_entry_id):
            raise InvalidRequest("A client_entry_id appears twice in the request.", param="client_entry_id")
        if not wanted:
            return {}
        params = {"merchant_id": merchant_id, "ids": list(wanted)}
        rows = await (await connection.execute(_EXISTING_CLIENT_IDS, params)).fetchall()
        for row in rows:
            if bytes(row.content_digest) != wanted[row.client_entry_id].digest():
                raise Conflict(f"client_entry_id {row.client_entry_id!r} was used for an entry with other content.",
                               code="client_entry_id_reused", param="client_entry_id")
        return {row.client_entry_id: row.id for row in rows}

    async def _entries_body(self, connection: AsyncConnection[Any], ids: list[str], fresh: list[Entry]) -> dict[str, Any]:
        new = {entry.id: entry for entry in fresh}
        old = [identifier for identifier in ids if identifier not in new]
        stored = await self.load_entries(connection, old) if old else {}
        data = [entry_json(new[i]) if i in new else stored[i] for i in ids]
        return {"object": "list", "data": data, "has_more": False}

    async def load_entries(self, connection: AsyncConnection[Any], ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await (await connection.execute(_ENTRIES, {"ids": list(ids)})).fetchall()
        postings = await (await connection.execute(_POSTINGS_OF, {"ids": list(ids)})).fetchall()
        return {row.id: entry_json(row, [p for p in postings if p.entry_id == row.id]) for row in rows}

    async def entry(self, merchant_id: str, entry_id: str) -> dict[str, Any]:
        async with self.database.connection() as connection:
            return await self._entry_on(connection, merchant_id, entry_id)

    async def _entry_on(self, connection: AsyncConnection[Any], merchant_id: str, entry_id: str) -> dict[str, Any]:
        found = await self.load_entries(connection, [entry_id])
        if entry_id not in found or found[entry_id]["merchant"] != merchant_id:
            raise NotFound(f"No such ledger entry: {entry_id!r}.")
        return found[entry_id]

    async def reverse(self, context: RequestContext, entry_id: str, params: schemas.EntryReverse) -> StoredResponse:
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            original = await self._entry_on(connection, context.merchant_id, entry_id)  # the held connection
            if original["hold"] is not None:
                raise Conflict("An entry of a hold is undone by voiding the hold, not by reversing it.",
                               code="entry_belongs_to_hold")
            if original["reversed_by"] is not None:
                raise Conflict("This entry has been reversed already.", code="entry_already_reversed")
            postings = [Posting(p["account"], p["currency"], -p["signed_amount"], PHASE_POSTED, p["bucket"])
                        for p in original["postings"]]
            entry = Entry(context.merchant_id, "reversal", postings, reverses_entry_id=entry_id,
                          client_entry_id=params.client_entry_id, object_id=original["object_id"],
                          description=params.description or f"Reverses {entry_id}")
            plan = _entries_plan([entry])
            plan.response = _ok(entry_json(entry))
            return plan

        return await self._run(context, phase_one)

    # -- holds -------------------------------------------------------------------------------------
    async def create_hold(self, context: RequestContext, params: schemas.HoldCreate) -> StoredResponse:
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            accounts = await self.accounts(connection, context.merchant_id, [params.debit_account, params.credit_account])
            debit = _open_account(accounts, params.debit_account, "debit_account")
            credit = _open_account(accounts, params.credit_account, "credit_account")
            if debit.currency != credit.currency or debit.id == credit.id:
                raise InvalidRequest("A hold moves money between two accounts in one currency.", param="credit_account")
            hold_id = new_id("lh")
            postings = hold(debit.id, credit.id, debit.currency, params.amount, hold_bucket(hold_id, debit.buckets),
                            hold_bucket(hold_id, credit.buckets))
            entry = Entry(context.merchant_id, "hold.placed", postings, hold_id=hold_id, object_id=params.object_id,
                          description=params.description)
            expires = dt.datetime.fromtimestamp(params.expires_at, dt.UTC) if params.expires_at else None
            row = {"id": hold_id, "merchant_id": context.merchant_id, "currency": debit.currency,
                   "debit_account_id": debit.id, "credit_account_id": credit.id, "amount": params.amount,
                   "posted_amount": 0, "released_amount": 0, "status": "pending", "object_id": params.object_id,
                   "expires_at": expires, "created_at": utc_now(), "updated_at": utc_now()}
            plan = _entries_plan([entry])
            plan.inserts.insert(0, (ledger_holds, row))
            plan.response = _ok(hold_json(row))
            return plan

        return await self._run(context, phase_one)

    async def close_account(self, context: RequestContext, account_id: str) -> StoredResponse:
        """Only an account with nothing on it closes: no posted balance, no pending hold."""
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            account = await self.account(connection, context.merchant_id, account_id)
            sums = await (await connection.execute(_BALANCE, {"id": account_id})).fetchone()
            if account.status != "open":
                raise Conflict("The account is closed already.", code="account_closed")
            if sums is None or (sums.posted, sums.pending_debits, sums.pending_credits) != (0, 0, 0):
                raise Conflict("Only an account with a zero balance and no pending holds can close.",
                               code="account_not_empty")
            plan = Plan(response=_ok(account_json({**account._asdict(), "status": "closed"})))
            plan.guards.append((ledger_accounts, {"status": "closed"}, {"id": account_id, "status": "open"}))
            return plan

        return await self._run(context, phase_one)

    async def load_hold(self, connection: AsyncConnection[Any], merchant_id: str, hold_id: str) -> Any:
        row = await (await connection.execute("SELECT * FROM ledger_holds WHERE id = %(id)s AND " + MERCHANT_SCOPE,
                                              {"id": hold_id, "merchant_id": merchant_id})).fetchone()
        if row is None:
            raise NotFound(f"No such hold: {hold_id!r}.")
        return row

    async def settle_hold(self, context: RequestContext, hold_id: str, amount: int | None,
                          final: bool) -> StoredResponse:
        """Post `amount` of the hold (None with final=False is refused), releasing the rest if final."""
        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            held = await self.load_hold(connection, context.merchant_id, hold_id)
            accounts = await self.accounts(connection, context.merchant_id,
                                           [held.debit_account_id, held.credit_account_id])
            buckets = (hold_bucket(held.id, accounts[held.debit_account_id].buckets),
                       hold_bucket(held.id, accounts[held.credit_account_id].buckets))
            entry, values = settlement(held, buckets, amount, final)
            plan = _entries_plan([entry])
            plan.guards.append((ledger_holds, values, {"id": held.id, "posted_amount": held.posted_amount,
                                                       "released_amount": held.released_amount}))
            plan.response = _ok(hold_json({**held._asdict(), **values}))
            return plan

        return await self._run(context, phase_one)


def _open_account(accounts: dict[str, Any], account_id: str, param: str) -> Any:
    account = accounts.get(account_id)
    if account is None:
        raise InvalidRequest(f"No such ledger account: {account_id!r}.", param=param, code="resource_missing")
    if account.status != "open":
        raise InvalidRequest(f"Ledger account {account_id!r} is closed.", param=param, code="account_closed")
    return account


def _require_balanced(entry: Entry, param: str) -> None:
    totals: dict[str, int] = {}
    for posting in entry.postings:
        totals[posting.currency] = totals.get(posting.currency, 0) + posting.amount
    for currency, total in totals.items():
        if total:
            raise InvalidRequest(
                f"Debits and credits differ by {abs(total)} in {currency}: every currency must balance on its own "
                "(post a currency exchange through an exchange account in each currency).", param=param,
                code="entry_unbalanced")


def _entries_plan(entries: Sequence[Entry]) -> Plan:
    plan = Plan()
    if entries:
        rows = [entry.rows() for entry in entries]
        plan.insert_many.append((ledger_entries, [entry for entry, _ in rows]))
        plan.insert_many.append((ledger_postings, [posting for _, postings in rows for posting in postings]))
    return plan


def settlement(held: Any, buckets: tuple[int, int], amount: int | None,
               final: bool) -> tuple[Entry, dict[str, Any]]:
    if held.status != "pending":
        raise Conflict(f"The hold is {held.status}.", code="hold_not_pending")
    left = held.amount - held.posted_amount - held.released_amount
    amount = left if amount is None and final else amount
    if amount is not None and amount > left:
        raise InvalidRequest(f"amount ({amount}) exceeds what is left of the hold ({left}).", param="amount",
                             code="amount_too_large")
    posted = amount or 0
    released = left - posted if final else 0
    if posted + released == 0:
        raise InvalidRequest("Nothing to post: give an amount, or final.", param="amount")
    debit, credit, currency = held.debit_account_id, held.credit_account_id, held.currency
    postings = release(debit, credit, currency, posted + released, buckets[0], buckets[1])
    if posted:
        postings += transfer(debit, credit, currency, posted, debit_bucket=buckets[0], credit_bucket=buckets[1])
    kind = "hold.posted" if posted else "hold.voided"
    entry = Entry(held.merchant_id, kind, postings, hold_id=held.id, object_id=held.object_id)
    total_posted, total_released = held.posted_amount + posted, held.released_amount + released
    done = total_posted + total_released == held.amount
    status = "pending" if not done else ("posted" if total_posted else "voided")
    values = {"posted_amount": total_posted, "released_amount": total_released, "status": status,
              "updated_at": utc_now()}
    return entry, values


_LIST_ENTRIES = """
SELECT e.*, NULL AS reversed_by FROM ledger_entries e
WHERE e.merchant_id = %(merchant_id)s {filters}
ORDER BY e.seq {order} LIMIT %(limit)s"""
_STATEMENT = """
SELECT e.id, e.created_at, e.kind, e.description, e.object_id, p.phase, p.amount
FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
WHERE p.account_id = %(account)s AND p.created_at >= %(start)s AND p.created_at < %(end)s
ORDER BY p.created_at, p.id"""


async def list_entries(service: LedgerService, merchant_id: str, filters: dict[str, Any], page: Any
                       ) -> tuple[list[dict[str, Any]], bool]:
    """Newest first, by `seq`; filters: account, object_id, kind, created_gte, created_lte (datetimes)."""
    conditions, params = [], {"merchant_id": merchant_id, "limit": page.limit + 1, **filters}
    if "account" in filters:
        conditions.append("EXISTS (SELECT 1 FROM ledger_postings p WHERE p.entry_id = e.id AND p.account_id = %(account)s)")
    conditions += [f"e.{name} = %({name})s" for name in ("object_id", "kind") if name in filters]
    conditions += [f"e.created_at {op} %({name})s" for name, op in (("created_gte", ">="), ("created_lte", "<="))
                   if name in filters]
    order = "DESC"
    async with service.database.connection() as connection:
        cursor = page.ending_before or page.starting_after
        if cursor:
            row = await (await connection.execute("SELECT seq FROM ledger_entries WHERE id = %(id)s AND "
                                                  + MERCHANT_SCOPE, {"id": cursor, "merchant_id": merchant_id})).fetchone()
            if row is None:
                raise InvalidRequest(f"No such entry for the cursor: {cursor!r}.", code="resource_missing",
                                     param="ending_before" if page.ending_before else "starting_after")
            conditions.append("e.seq > %(seq)s" if page.ending_before else "e.seq < %(seq)s")
            params["seq"], order = row.seq, "ASC" if page.ending_before else "DESC"
        query = _LIST_ENTRIES.format(filters="".join(f" AND {c}" for c in conditions), order=order)
        rows = list(await (await connection.execute(query, params)).fetchall())
        has_more = len(rows) > page.limit
        rows = rows[: page.limit][:: -1 if page.ending_before else 1]
        found = await service.load_entries(connection, [row.id for row in rows])
    return [found[row.id] for row in rows], has_more


async def statement_rows(service: LedgerService, merchant_id: str, account_id: str, start: dt.datetime,
                         end: dt.datetime) -> list[list[Any]]:
    """The account's postings in [start, end) with a running posted balance (normal direction)
    starting from the posted balance as of `start`: a CSV a finance person can reconcile."""
    from basketpay.money import format_major

    opening = await service.balance(merchant_id, account_id, start - dt.timedelta(microseconds=1))
    async with service.database.connection() as connection:
        account = await service.account(connection, merchant_id, account_id)
        rows = await (await connection.execute(_STATEMENT, {"account": account_id, "start": start, "end": end}))\
            .fetchall()
    sign, running = (1 if account.normal_balance == "debit" else -1), opening["posted"]
    lines: list[list[Any]] = [["entry", "created_utc", "kind", "description", "object_id", "phase", "direction",
                               "amount", "currency", "posted_balance"],
                              ["", start.isoformat(), "opening_balance", "", "", "", "", "", account.currency,
                               format_major(running, account.currency)]]
    for row in rows:
        if row.phase == PHASE_POSTED:
            running += sign * row.amount
        lines.append([row.id, row.created_at.isoformat(), row.kind, row.description or "", row.object_id or "",
                      {0: "posted", 1: "pending", 2: "release"}[row.phase], "debit" if row.amount > 0 else "credit",
                      format_major(abs(row.amount), account.currency), account.currency,
                      format_major(running, account.currency)])
    return lines
