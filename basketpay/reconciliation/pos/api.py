"""Routes under /v1/reconciliation/pos_feeds: import a retailer's point-of-sale feed (the raw
CSV as the request body), read it back with its summary, and list its lines with how each
matched the orders."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from basketpay.api import docs
from basketpay.api.dependencies import MerchantId, Page, list_body, services
from basketpay.db.pagination import LIMIT_DEFAULT, LIMIT_MAX, fetch_page
from basketpay.errors import InvalidRequest
from basketpay.payments.schemas import OBJECT_ID_PATTERN
from basketpay.reconciliation.pos import feeds
from basketpay.reconciliation.pos.importer import import_pos_feed
from basketpay.reconciliation.pos.matching import STATUSES, MatchWindow
from basketpay.reconciliation.pos.parser import FileRejected
from basketpay.reconciliation.tables import pos_feeds

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])
FEED_ID = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="A point-of-sale feed id, posf_…")]
FEED_BYTES_MAX = 16 * 1024 * 1024
CONTENT_TYPES = ("text/csv", "text/plain")
_CSV_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": "store,timestamp,card_last4,total,tax\n"
                 "store_12,2025-03-01T14:05:00Z,4242,28.07,0.84\n"}}}}


async def _body(request: Request) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise InvalidRequest("Send the feed as the request body with Content-Type: text/csv.",
                             code="content_type_invalid", param="Content-Type")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > FEED_BYTES_MAX:
            raise InvalidRequest(f"The feed is larger than {FEED_BYTES_MAX:,} bytes.", code="file_too_large")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _rejected(FileRejected(f"not UTF-8 text (byte {error.start})")) from None


def _rejected(error: FileRejected) -> InvalidRequest:
    return InvalidRequest(f"The feed was rejected: {error}.", code="file_rejected",
                          extra={"line": error.line, "column": error.column})


@router.post("/pos_feeds", responses=docs.WRITE, openapi_extra=_CSV_BODY,
             summary="Import a retailer's point-of-sale feed (CSV: store,timestamp,card_last4,total,tax[,currency]) "
                     "and match it to the orders' card authorizations; the same content again returns the same feed")
async def import_feed(request: Request, merchant: MerchantId,
                      name: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$")],
                      window_hours: Annotated[int, Query(ge=1, le=72, description="How long after an order's "
                                                         "card authorization its purchase may be.")] = 6,
                      ) -> dict[str, Any]:
    text = await _body(request)
    try:
        result = await import_pos_feed(services(request).database, merchant, name,
                                       io.StringIO(text, newline=""), MatchWindow(window_hours * 3600))
    except FileRejected as error:
        raise _rejected(error) from None
    return result.feed


@router.get("/pos_feeds", responses=docs.READ, summary="List point-of-sale feeds, newest first")
async def list_feeds(request: Request, merchant: MerchantId, page: Page) -> dict[str, Any]:
    async with services(request).database.connection() as connection:
        rows, has_more = await fetch_page(connection, pos_feeds, merchant, page)
    return list_body("/v1/reconciliation/pos_feeds", [feeds.feed_json(row) for row in rows], has_more)


@router.get("/pos_feeds/{feed_id}", responses=docs.READ, summary="A point-of-sale feed and its summary")
async def retrieve_feed(request: Request, merchant: MerchantId, feed_id: FEED_ID) -> dict[str, Any]:
    async with services(request).database.connection() as connection:
        return feeds.feed_json(await feeds.load(connection, merchant, feed_id))


@router.get("/pos_feeds/{feed_id}/transactions", responses=docs.READ,
            summary="A feed's lines in file order, each with its status, the order it matched and the detail")
async def list_transactions(
    request: Request, merchant: MerchantId, feed_id: FEED_ID,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = LIMIT_DEFAULT,
    starting_after: Annotated[int, Query(ge=0, le=2**31 - 1, description="A line number: the lines after it.")] = 0,
    status: Annotated[Literal["matched", "total_mismatch", "tax_mismatch", "unmatched"] | None, Query()] = None,
) -> dict[str, Any]:
    async with services(request).database.connection() as connection:
        await feeds.load(connection, merchant, feed_id)
        rows, has_more = await feeds.transactions(connection, merchant, feed_id, after_line=starting_after,
                                                  limit=limit, statuses=STATUSES if status is None else (status,))
    return list_body(f"/v1/reconciliation/pos_feeds/{feed_id}/transactions",
                     [feeds.transaction_json(row) for row in rows], has_more)
