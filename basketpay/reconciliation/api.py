"""Routes under /v1/reconciliation: upload a settlement file (the raw CSV as the body),
runs and their reports, breaks and their resolution."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from basketpay.api import docs
from basketpay.api.dependencies import MerchantId, services
from basketpay.errors import InvalidRequest
from basketpay.reconciliation import report
from basketpay.reconciliation.formats.rows import FileRejected
from basketpay.reconciliation.tables import BREAK_CATEGORIES

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])
UPLOAD_BYTES_MAX = 2 << 30  # 2 GiB: a month of a large marketplace's lines; streamed to disk, never held


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(pattern="^(accept|write_off|ignore)$", description="accept, write_off or ignore")
    reason: str | None = Field(default=None, max_length=1000, description="Required to ignore.")


def _break_json(row: Any) -> dict[str, Any]:
    body = row._asdict()
    body.pop("seq", None)
    return {"object": "reconciliation_break", **{k: v.isoformat() if hasattr(v, "isoformat") else v
                                                  for k, v in body.items()}}


async def _spool(request: Request) -> Path:
    """The request body, streamed to a temporary file (bounded memory for any size)."""
    size = 0
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > UPLOAD_BYTES_MAX:
                Path(spool.name).unlink(missing_ok=True)
                raise InvalidRequest(f"the file exceeds {UPLOAD_BYTES_MAX} bytes", param="body")
            spool.write(chunk)
    return Path(spool.name)


@router.post("/files", responses=docs.WRITE, summary="Import a settlement file and reconcile it",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def upload(request: Request, merchant: MerchantId,
                 name: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                            description="The file's name, for the report")] = "upload.csv",
                 ) -> dict[str, Any]:
    """The body is the file as the processor published it (Stripe itemized payout reconciliation,
    Stripe payouts, or Adyen settlement details). A file imported before changes nothing
    (`already_imported`). A bad file is a 400 naming its line (`line`) and column (`param`)."""
    path = await _spool(request)
    try:
        imported, runs = await services(request).reconciliation.reconcile_files(merchant, [path], "api", [name])
    except FileRejected as error:
        raise InvalidRequest(f"nothing imported: {error}", code="settlement_file_rejected", param=error.column,
                             extra={"line": error.line}) from None
    finally:
        path.unlink(missing_ok=True)
    item = imported[0]
    return {"object": "settlement_file", "id": item.file_id, "name": item.name, "processor": item.processor,
            "format": item.format, "rows": item.rows, "already_imported": item.already_imported, "runs": runs}


@router.get("/runs", responses=docs.READ, summary="Reconciliation runs, newest first")
async def list_runs(request: Request, merchant: MerchantId,
                    limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    rows = await services(request).reconciliation.runs(merchant, limit + 1)
    return {"object": "list", "url": "/v1/reconciliation/runs", "data": [row.summary for row in rows[:limit]],
            "has_more": len(rows) > limit}


@router.get("/runs/{run_id}", responses=docs.READ, summary="A run's summary (format=json), or its report",
            response_model=None)
async def get_run(request: Request, merchant: MerchantId, run_id: str,
                  format: Annotated[str, Query(pattern="^(json|html|csv)$")] = "json",
                  ) -> dict[str, Any] | HTMLResponse | PlainTextResponse:
    service = services(request).reconciliation
    summary = (await service.get_run(merchant, run_id)).summary
    if format == "html":
        return HTMLResponse(report.to_html(summary))
    if format == "csv":
        breaks = [row._asdict() for row in await service.breaks(merchant, run_id=run_id, limit=100_000)]
        return PlainTextResponse(report.to_csv(summary, breaks), media_type="text/csv")
    return {"object": "reconciliation_run", **summary}


@router.get("/breaks", responses=docs.READ, summary="Breaks, oldest first (unresolved ones by default)")
async def list_breaks(request: Request, merchant: MerchantId,
                      status: Annotated[str, Query(pattern="^(unresolved|open|expected|overdue|resolved)$")] = "unresolved",
                      category: Annotated[str | None, Query(pattern="^(" + "|".join(BREAK_CATEGORIES) + ")$")] = None,
                      run: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 100) -> dict[str, Any]:
    rows = await services(request).reconciliation.breaks(merchant, run_id=run, status=status, category=category,
                                                         limit=limit + 1)
    return {"object": "list", "url": "/v1/reconciliation/breaks", "data": [_break_json(row) for row in rows[:limit]],
            "has_more": len(rows) > limit}


@router.post("/breaks/{break_id}/resolve", responses=docs.WRITE, summary="Resolve a break (accept, write off, ignore)")
async def resolve(request: Request, merchant: MerchantId, break_id: str,
                  params: Annotated[ResolveIn, Body()]) -> dict[str, Any]:
    row = await services(request).reconciliation.resolve(merchant, break_id, params.action, params.reason,
                                                         f"api:{merchant}")
    return _break_json(row)
