"""Writing runs: idempotent by id, priced at ingest, with the daily rollup updated in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection

from service.db import Database, dialect_insert, runs, usage_daily
from service.engine import token_cost
from service.group_commit import GroupCommitter
from service.pricing import Catalogue, ModelPrice
from service.schemas import RunIn

CREATED, DUPLICATE, CONFLICT = "created", "duplicate", "conflict"
ROLLUP_SUMS = (
    "prompts",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "unpriced_runs",
    "error_runs",
)


@dataclass(frozen=True)
class IngestResult:
    id: str
    status: str
    cost_usd: float | None
    warning: str | None = None


def run_cost(price: ModelPrice, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> float:
    cached_rate = price.cached_input_per_m if price.cached_input_per_m is not None else price.input_per_m
    return token_cost(
        prompt_tokens, cached_tokens, completion_tokens, price.input_per_m, cached_rate, price.output_per_m
    )


def content_hash(run: RunIn) -> str:
    """Fingerprint of what the client sent, so a retry is told apart from a different run reusing an id.
    The same instant in another offset, or metadata keys in another order, is the same content."""
    digest = hashlib.sha256(run.model_dump_json(exclude={"occurred_at", "metadata"}).encode())
    if run.occurred_at is not None:
        digest.update(b"|at=" + run.occurred_at.astimezone(UTC).isoformat().encode())
    if run.metadata is not None:
        digest.update(b"|meta=" + json.dumps(run.metadata, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def local_day(occurred_at_utc: datetime, tz: ZoneInfo) -> date:
    return occurred_at_utc.replace(tzinfo=UTC).astimezone(tz).date()


def rollup_key(row: dict, tz: ZoneInfo) -> tuple[date, str, str, str]:
    return (local_day(row["occurred_at"], tz), row["provider"], row["model"], row["workflow_id"] or "")


def add_to_rollup(db: Database, conn: Connection, rows: Iterable[dict], tz: ZoneInfo) -> None:
    """Adds stored runs to the daily rollup. Keys are written in sorted order so that concurrent transactions
    on PostgreSQL lock rollup rows in the same order and cannot deadlock."""
    deltas: dict[tuple[date, str, str, str], dict[str, float]] = {}
    for row in rows:
        sums = deltas.setdefault(rollup_key(row, tz), dict.fromkeys(ROLLUP_SUMS, 0))
        sums["prompts"] += 1
        sums["prompt_tokens"] += row["prompt_tokens"]
        sums["completion_tokens"] += row["completion_tokens"]
        sums["cached_tokens"] += row["cached_tokens"]
        if row["cost_usd"] is None:
            sums["unpriced_runs"] += 1
        else:
            sums["cost_usd"] += row["cost_usd"]
        if row["status"] == "error":
            sums["error_runs"] += 1
    if not deltas:
        return
    values = [
        {"day": key[0], "provider": key[1], "model": key[2], "workflow_id": key[3], **sums}
        for key, sums in sorted(deltas.items())
    ]
    conn.execute(_rollup_upsert(db.dialect), values)


@cache
def _rollup_upsert(dialect: str):
    """Built once per dialect so SQLAlchemy compiles it once; executed as an executemany."""
    stmt = dialect_insert(dialect, usage_daily)
    return stmt.on_conflict_do_update(
        index_elements=["day", "provider", "model", "workflow_id"],
        set_={name: usage_daily.c[name] + stmt.excluded[name] for name in ROLLUP_SUMS},
    )


@cache
def _insert_new_runs(dialect: str):
    stmt = dialect_insert(dialect, runs)
    return stmt.on_conflict_do_nothing(index_elements=["id"]).returning(runs.c.id)


class Ledger:
    def __init__(self, db: Database, catalogue: Catalogue, tz: ZoneInfo):
        self.db = db
        self.catalogue = catalogue
        self.tz = tz
        self._committer = GroupCommitter(self._ingest_now)

    def _row(self, run: RunIn, received_at: datetime) -> tuple[dict, str | None]:
        occurred_at = (
            run.occurred_at.astimezone(UTC).replace(tzinfo=None) if run.occurred_at is not None else received_at
        )
        price = self.catalogue.price_for(run.provider, run.model, occurred_at)
        warning = None
        if price is None:
            cost = None
            warning = (
                f"no price for {run.provider}/{run.model} in the catalogue: stored with cost_usd null "
                "(add it to your pricing file to price later runs)"
            )
        else:
            cost = run_cost(price, run.prompt_tokens, run.cached_tokens, run.completion_tokens)
        row = {
            "id": run.id,
            "provider": run.provider,
            "model": run.model,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "cached_tokens": run.cached_tokens,
            "occurred_at": occurred_at,
            "workflow_id": run.workflow_id,
            "workflow_name": run.workflow_name,
            "execution_id": run.execution_id,
            "node": run.node,
            "latency_ms": run.latency_ms,
            "status": run.status,
            "metadata": json.dumps(run.metadata, separators=(",", ":")) if run.metadata is not None else None,
            "cost_usd": cost,
            "content_hash": content_hash(run),
            "received_at": received_at,
        }
        return row, warning

    def ingest(self, batch: Sequence[RunIn]) -> list[IngestResult]:
        """Stores every run whose id is new; reports each item's outcome in input order. Runs of requests that
        arrive together are committed in one transaction (see group_commit)."""
        return self._committer.submit(batch)

    def _ingest_now(self, batch: Sequence[RunIn]) -> list[IngestResult]:
        """Stores every run whose id is new, in one transaction. Within it, the first run with an id wins and
        later ones with the same id are duplicates or conflicts, exactly as if they had come one by one."""
        received_at = datetime.now(UTC).replace(tzinfo=None)
        prepared = [self._row(run, received_at) for run in batch]
        rows = [row for row, _ in prepared]
        # Inserting in id order keeps two concurrent PostgreSQL batches from deadlocking on the primary key.
        ordered = sorted(rows, key=lambda r: r["id"]) if self.db.dialect != "sqlite" else rows
        with self.db.write() as conn:
            inserted = set(conn.scalars(_insert_new_runs(self.db.dialect), ordered).all())
            first_of_id: dict[str, dict] = {}
            for row in rows:
                first_of_id.setdefault(row["id"], row)
            add_to_rollup(self.db, conn, (first_of_id[i] for i in inserted), self.tz)
            others = [row["id"] for row in rows if row["id"] not in inserted or first_of_id[row["id"]] is not row]
            stored_hash = {}
            if others:
                stored_hash = dict(
                    conn.execute(select(runs.c.id, runs.c.content_hash).where(runs.c.id.in_(set(others)))).all()
                )
        results = []
        for row, warning in prepared:
            if row["id"] in inserted and first_of_id[row["id"]] is row:
                status = CREATED
            elif stored_hash.get(row["id"]) == row["content_hash"]:
                status = DUPLICATE
            else:
                status = CONFLICT
            results.append(IngestResult(row["id"], status, row["cost_usd"] if status != CONFLICT else None, warning))
        return results
