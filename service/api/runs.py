"""POST /v1/runs: log one run or a batch, idempotently."""

from __future__ import annotations

import json
import time

from flask import Blueprint, request
from pydantic import ValidationError

from service import metrics
from service.app_context import current
from service.auth import INGEST, require
from service.errors import ApiError, from_validation
from service.ledger import CONFLICT, CREATED, IngestResult
from service.schemas import MAX_BATCH, RunBatchIn, RunIn

bp = Blueprint("runs", __name__, url_prefix="/v1")


def _json_object() -> dict:
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "validation_error",
            'body: must be a JSON object (one run, or {"runs": [...]})',
            [{"field": "body", "message": "must be a JSON object", "type": "model_type"}],
        )
    return body


def _item(result: IngestResult) -> dict:
    item: dict = {"id": result.id, "status": result.status, "cost_usd": result.cost_usd}
    if result.warning:
        item["warning"] = result.warning
    return item


@bp.post("/runs")
@require(INGEST)
def create():
    """Log one run (201 created, 200 duplicate, 409 conflict) or a batch `{"runs": [...]}` of at most 1,000."""
    started = time.perf_counter()
    body = _json_object()
    ledger = current().ledger
    if "runs" in body:
        runs = body["runs"]
        if isinstance(runs, list) and len(runs) > MAX_BATCH:
            raise ApiError(
                422,
                "validation_error",
                f"runs: at most {MAX_BATCH} runs per request (got {len(runs)})",
                [{"field": "runs", "message": f"at most {MAX_BATCH} items", "type": "too_long"}],
            )
        try:
            batch = RunBatchIn.model_validate(body).runs
        except ValidationError as exc:
            raise from_validation(exc) from exc
        results = ledger.ingest(batch)
        metrics.observe_ingest(batch, results, time.perf_counter() - started, "batch")
        counts = {status: sum(r.status == status for r in results) for status in ("created", "duplicate", "conflict")}
        return {"results": [_item(r) for r in results], **counts}, 200

    try:
        run = RunIn.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from exc
    (result,) = ledger.ingest([run])
    metrics.observe_ingest([run], [result], time.perf_counter() - started, "single")
    if result.status == CONFLICT:
        raise ApiError(
            409,
            "conflict",
            f"run {run.id!r} was already logged with different content",
            [{"field": "id", "message": "already used for a different run", "type": "conflict"}],
        )
    return _item(result), 201 if result.status == CREATED else 200
