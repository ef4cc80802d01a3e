"""Reading usage from the daily rollup (never from raw runs)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from service.db import Database, usage_daily

SUMS = ("prompts", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd", "unpriced_runs")
MAX_RANGE_DAYS = 1096
DEFAULT_RANGE_DAYS = 30


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date | None = None
    end: date | None = None
    model: str | None = None
    provider: str | None = None
    workflow_id: str | None = None
    group_by: Literal["day", "model", "workflow"] = "day"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # pydantic would also read "0" or "1700000000" as a Unix time; a date here is always YYYY-MM-DD.
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("must be a date written YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> UsageQuery:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start must not be after end")
        return self

    def resolved(self, today: date) -> tuple[date, date]:
        end = self.end or today
        start = self.start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        return start, end


class RangeTooLarge(ValueError):
    pass


def _sum_columns():
    return [func.coalesce(func.sum(usage_daily.c[name]), 0).label(name) for name in SUMS]


def _filters(query: UsageQuery, start: date, end: date) -> list:
    conditions = [usage_daily.c.day >= start, usage_daily.c.day <= end]
    if query.model:
        conditions.append(usage_daily.c.model == query.model)
    if query.provider:
        conditions.append(usage_daily.c.provider == query.provider)
    if query.workflow_id is not None:
        conditions.append(usage_daily.c.workflow_id == query.workflow_id)
    return conditions


def _clean(sums: dict) -> dict:
    cleaned = {name: int(sums[name]) for name in SUMS if name != "cost_usd"}
    cleaned["cost_usd"] = round(float(sums["cost_usd"]), 6)
    return cleaned


def usage(db: Database, query: UsageQuery, today: date) -> dict:
    """Rows grouped by day (every day in range, zeros included), model or workflow, and their totals."""
    start, end = query.resolved(today)
    if start > end:
        raise ValueError("start must not be after end")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise RangeTooLarge(f"at most {MAX_RANGE_DAYS} days per request")
    keys = {
        "day": [usage_daily.c.day],
        "model": [usage_daily.c.provider, usage_daily.c.model],
        "workflow": [usage_daily.c.workflow_id],
    }[query.group_by]
    stmt = select(*keys, *_sum_columns()).where(*_filters(query, start, end)).group_by(*keys).order_by(*keys)
    with db.read() as conn:
        found = [dict(row) for row in conn.execute(stmt).mappings()]

    if query.group_by == "day":
        by_day = {_as_date(row["day"]): row for row in found}
        zero = dict.fromkeys(SUMS, 0)
        rows = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            rows.append({"day": day.isoformat(), **_clean(by_day.get(day, zero))})
    elif query.group_by == "model":
        rows = [{"provider": r["provider"], "model": r["model"], **_clean(r)} for r in found]
    else:
        rows = [{"workflow_id": r["workflow_id"] or None, **_clean(r)} for r in found]

    totals = _clean({name: sum(row[name] for row in rows) for name in SUMS})
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group_by": query.group_by,
        "rows": rows,
        "totals": totals,
    }


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def workload_between(conn: Connection, provider: str, model: str, start: date, end: date) -> dict | None:
    """Mean tokens per run over the days [start, end], or None when there were no runs."""
    stmt = select(*_sum_columns()).where(
        usage_daily.c.provider == provider,
        usage_daily.c.model == model,
        usage_daily.c.day >= start,
        usage_daily.c.day <= end,
    )
    sums = conn.execute(stmt).mappings().one()
    prompts = int(sums["prompts"])
    if prompts == 0:
        return None
    return {
        "prompt_tokens": int(sums["prompt_tokens"]) / prompts,
        "completion_tokens": int(sums["completion_tokens"]) / prompts,
        "cached_tokens": int(sums["cached_tokens"]) / prompts,
        "runs": prompts,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def measured_workload(settings, provider: str, model: str) -> dict | None:
    """The model's mean workload over the last `window_days` days (today included), for command-line tools."""
    db = Database(settings.database_url)
    try:
        today = datetime.now(settings.tz).date()
        start = today - timedelta(days=settings.window_days - 1)
        with db.read() as conn:
            found = workload_between(conn, provider, model, start, today)
    finally:
        db.dispose()
    if found is not None:
        found["window_days"] = settings.window_days
    return found
