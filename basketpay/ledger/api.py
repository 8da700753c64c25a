"""Routes under /v1/ledger: accounts and balances, entries (one or a batch), reversals,
holds, lists and an account statement as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from basketpay.api import docs
from basketpay.api.dependencies import IdempotencyKey, MerchantId, Page, context, list_body, services, stored
from basketpay.ledger import schemas
from basketpay.ledger.service import list_entries, statement_rows
from basketpay.payments.schemas import OBJECT_ID_PATTERN

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
ObjectPath = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]
UnixTime = Annotated[int | None, Query(ge=0, le=253402300799, description="Unix seconds.")]


def _time(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _ledger(request: Request) -> Any:
    return services(request).ledger


@router.post("/accounts", responses=docs.WRITE, summary="Create a ledger account")
async def create_account(request: Request, merchant: MerchantId, key: IdempotencyKey,
                         params: Annotated[schemas.AccountCreate, Body()]) -> Response:
    return stored(await _ledger(request).create_account(context(request, merchant, key, params), params))


@router.get("/accounts", responses=docs.READ, summary="List ledger accounts, newest first")
async def list_accounts(request: Request, merchant: MerchantId, page: Page,
                        code: Annotated[str | None, Query(pattern=r"^[a-z0-9_.:-]{1,100}$")] = None,
                        currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None) -> dict[str, Any]:
    filters = {k: v for k, v in {"code": code, "currency": currency.upper() if currency else None}.items() if v}
    data, has_more = await _ledger(request).list_accounts(merchant, page, filters)
    return list_body("/v1/ledger/accounts", data, has_more)


@router.get("/accounts/{account_id}", responses=docs.READ, summary="Retrieve a ledger account")
async def retrieve_account(request: Request, merchant: MerchantId, account_id: ObjectPath) -> dict[str, Any]:
    from basketpay.ledger.serializers import account_json

    async with _ledger(request).database.connection() as connection:
        return account_json(await _ledger(request).account(connection, merchant, account_id))


@router.post("/accounts/{account_id}/close", responses=docs.WRITE,
             summary="Close an empty account: nothing can post to it afterwards")
async def close_account(request: Request, merchant: MerchantId, key: IdempotencyKey,
                        account_id: ObjectPath) -> Response:
    return stored(await _ledger(request).close_account(context(request, merchant, key, None), account_id))


@router.get("/accounts/{account_id}/balance", responses=docs.READ,
            summary="An account's posted, pending and available balance, now or as of a time")
async def account_balance(request: Request, merchant: MerchantId, account_id: ObjectPath,
                          as_of: UnixTime = None) -> dict[str, Any]:
    return await _ledger(request).balance(merchant, account_id, _time(as_of))  # type: ignore[no-any-return]


@router.get("/accounts/{account_id}/statement.csv", responses=docs.READ,
            summary="An account statement as CSV: postings between two times with a running balance")
async def account_statement(request: Request, merchant: MerchantId, account_id: ObjectPath,
                            start: UnixTime = None, end: UnixTime = None) -> Response:
    now = dt.datetime.now(dt.UTC)
    begin, finish = _time(start) or now - dt.timedelta(days=30), _time(end) or now + dt.timedelta(seconds=1)
    lines = await statement_rows(_ledger(request), merchant, account_id, begin, finish)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return Response(buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{account_id}.csv"'})


@router.post("/entries", responses=docs.WRITE, summary="Post one journal entry")
async def post_entry(request: Request, merchant: MerchantId, key: IdempotencyKey,
                     params: Annotated[schemas.EntryCreate, Body()]) -> Response:
    response = await _ledger(request).post_entries(context(request, merchant, key, params), [params])
    if response.status_code != 200:
        return stored(response)
    import orjson

    return Response(orjson.dumps(orjson.loads(response.body)["data"][0]), media_type="application/json")


@router.post("/entries/batch", responses=docs.WRITE, summary="Post many journal entries at once (all or none)")
async def post_entries(request: Request, merchant: MerchantId, key: IdempotencyKey,
                       params: Annotated[schemas.EntriesBatchCreate, Body()]) -> Response:
    return stored(await _ledger(request).post_entries(context(request, merchant, key, params), params.entries))


@router.get("/entries", responses=docs.READ, summary="List journal entries, newest first, with filters")
async def entries(request: Request, merchant: MerchantId, page: Page,
                  account: Annotated[str | None, Query(pattern=OBJECT_ID_PATTERN)] = None,
                  object_id: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$")] = None,
                  kind: Annotated[str | None, Query(pattern=r"^[a-z0-9_.:-]{1,100}$")] = None,
                  created_gte: UnixTime = None, created_lte: UnixTime = None) -> dict[str, Any]:
    given = {"account": account, "object_id": object_id, "kind": kind, "created_gte": _time(created_gte),
             "created_lte": _time(created_lte)}
    data, has_more = await list_entries(_ledger(request), merchant, {k: v for k, v in given.items() if v}, page)
    return list_body("/v1/ledger/entries", data, has_more)


@router.get("/entries/{entry_id}", responses=docs.READ, summary="Retrieve a journal entry with its postings")
async def retrieve_entry(request: Request, merchant: MerchantId, entry_id: ObjectPath) -> dict[str, Any]:
    return await _ledger(request).entry(merchant, entry_id)  # type: ignore[no-any-return]


@router.post("/entries/{entry_id}/reverse", responses=docs.WRITE, summary="Reverse an entry with a new entry")
async def reverse_entry(request: Request, merchant: MerchantId, key: IdempotencyKey, entry_id: ObjectPath,
                        params: Annotated[schemas.EntryReverse, Body()]) -> Response:
    return stored(await _ledger(request).reverse(context(request, merchant, key, params), entry_id, params))


@router.post("/holds", responses=docs.WRITE, summary="Place a hold: a pending entry")
async def create_hold(request: Request, merchant: MerchantId, key: IdempotencyKey,
                      params: Annotated[schemas.HoldCreate, Body()]) -> Response:
    return stored(await _ledger(request).create_hold(context(request, merchant, key, params), params))


@router.post("/holds/{hold_id}/post", responses=docs.WRITE, summary="Post a hold, fully or partly")
async def post_hold(request: Request, merchant: MerchantId, key: IdempotencyKey, hold_id: ObjectPath,
                    params: Annotated[schemas.HoldPost, Body()]) -> Response:
    ctx = context(request, merchant, key, params)
    return stored(await _ledger(request).settle_hold(ctx, hold_id, params.amount, params.final))


@router.post("/holds/{hold_id}/void", responses=docs.WRITE, summary="Void what is left of a hold")
async def void_hold(request: Request, merchant: MerchantId, key: IdempotencyKey, hold_id: ObjectPath) -> Response:
    return stored(await _ledger(request).settle_hold(context(request, merchant, key, None), hold_id, 0, True))


@router.get("/holds/{hold_id}", responses=docs.READ, summary="Retrieve a hold")
async def retrieve_hold(request: Request, merchant: MerchantId, hold_id: ObjectPath) -> dict[str, Any]:
    from basketpay.ledger.serializers import hold_json

    async with _ledger(request).database.connection() as connection:
        return hold_json(await _ledger(request).load_hold(connection, merchant, hold_id))
