"""Collecting token usage that n8n's LangChain chat-model nodes keep to themselves.

AI Agent and Basic LLM Chain write each LLM call's `tokenUsage` only into the chat-model sub-node's run data,
where later nodes cannot read it. n8n's public API returns finished executions with that data; this module
turns each sub-node run into one ledger run whose id (execution, node, run index) is the same every time it is
read, so collecting twice never counts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
from pydantic import ValidationError
from sqlalchemy import select

from service.db import Database, settings_kv
from service.ledger import Ledger
from service.schemas import RunIn

log = logging.getLogger(__name__)

CURSOR_KEY = "n8n_collector_cursor"
PAGE_SIZE = 100
FINISHED = {"success", "error", "crashed", "canceled"}
# Chat-model node types (suffix after the package) and the provider their model names belong to.
CHAT_MODEL_PROVIDERS = {
    "lmChatGroq": "groq",
    "lmChatOpenAi": "openai",
    "lmChatDeepSeek": "deepseek",
    "lmChatMistralCloud": "mistral",
    "lmChatOpenRouter": "openrouter",
    "lmChatOllama": "ollama",
}


class CollectorError(RuntimeError):
    """n8n could not be read; the message says why without repeating the API key."""


@dataclass
class CollectReport:
    executions: int = 0
    llm_calls: int = 0
    created: int = 0
    duplicates: int = 0
    skipped: int = 0
    cursor: int | None = None


def _provider_of(node_type: str) -> str | None:
    return CHAT_MODEL_PROVIDERS.get(node_type.rsplit(".", 1)[-1])


def _model_of(node: dict) -> str | None:
    model = (node.get("parameters") or {}).get("model")
    if isinstance(model, dict):  # resource-locator parameters: {"__rl": true, "value": "...", "mode": "list"}
        model = model.get("value")
    return model if isinstance(model, str) and model else None


def runs_from_execution(execution: dict, workflow_nodes: list[dict] | None = None) -> Iterator[dict]:
    """One ledger run per chat-model sub-node call that reported token usage."""
    workflow = execution.get("workflowData") or {}
    nodes = {node["name"]: node for node in (workflow_nodes or workflow.get("nodes") or []) if "name" in node}
    run_data = ((execution.get("data") or {}).get("resultData") or {}).get("runData") or {}
    for node_name, node_runs in run_data.items():
        node = nodes.get(node_name)
        provider = _provider_of(node.get("type", "")) if node else None
        if provider is None:
            continue
        for index, node_run in enumerate(node_runs or []):
            outputs = ((node_run.get("data") or {}).get("ai_languageModel") or [[]])[0] or []
            usage = next(
                (
                    item.get("json", {}).get("tokenUsage")
                    for item in outputs
                    if isinstance(item, dict) and item.get("json", {}).get("tokenUsage")
                ),
                None,
            )
            if not usage:
                continue
            started = node_run.get("startTime")
            yield {
                "id": f"n8n:{execution['id']}:{node_name}:{index}",
                "provider": provider,
                "model": _model_of(node) or "unknown",
                "prompt_tokens": int(usage.get("promptTokens") or 0),
                "completion_tokens": int(usage.get("completionTokens") or 0),
                "occurred_at": datetime.fromtimestamp(started / 1000, UTC).isoformat() if started else None,
                "workflow_id": str(execution.get("workflowId") or workflow.get("id") or "") or None,
                "workflow_name": workflow.get("name"),
                "execution_id": str(execution["id"]),
                "node": node_name,
                "latency_ms": int(node_run["executionTime"]) if node_run.get("executionTime") is not None else None,
                "status": "error" if node_run.get("error") else "success",
                "metadata": {"source": "n8n-collector", "run_index": index},
            }


class N8nClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-N8N-API-KEY"] = api_key
        self.timeout = timeout

    def _get(self, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url}/api/v1{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CollectorError(f"cannot reach n8n at {self.base_url} ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise CollectorError(
                f"n8n refused the API key (HTTP {response.status_code}); it needs the "
                "execution:read, execution:list and workflow:read scopes"
            )
        if response.status_code != 200:
            raise CollectorError(f"n8n answered HTTP {response.status_code} for {path}")
        return response.json()

    def executions_newest_first(self) -> Iterator[dict]:
        cursor = None
        while True:
            params = {"includeData": "true", "limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page = self._get("/executions", params)
            yield from page.get("data") or []
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def workflow_nodes(self, workflow_id: str) -> list[dict]:
        return self._get(f"/workflows/{workflow_id}").get("nodes") or []


def _read_cursor(db: Database) -> int:
    with db.read() as conn:
        value = conn.scalar(select(settings_kv.c.value).where(settings_kv.c.key == CURSOR_KEY))
    return int(value) if value else 0


def _write_cursor(db: Database, cursor: int) -> None:
    with db.write() as conn:
        stmt = db.insert(settings_kv).values(key=CURSOR_KEY, value=str(cursor))
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": str(cursor)}))


def collect(
    ledger: Ledger, client: N8nClient, progress: Callable[[CollectReport], None] | None = None, from_start: bool = False
) -> CollectReport:
    """Logs the LLM calls of every finished execution newer than the remembered cursor, then moves it.

    The cursor only passes executions that had finished when they were read; one still running keeps the
    cursor below it, so it is read again next time (ids make the re-read harmless).
    """
    report = CollectReport()
    cursor = 0 if from_start else _read_cursor(ledger.db)
    newest_done, oldest_unfinished = cursor, None
    node_cache: dict[str, list[dict]] = {}
    for execution in client.executions_newest_first():
        execution_id = int(execution["id"])
        if execution_id <= cursor:
            break
        if execution.get("status") not in FINISHED and not execution.get("finished"):
            oldest_unfinished = execution_id
            continue
        report.executions += 1
        nodes = None
        if not (execution.get("workflowData") or {}).get("nodes") and execution.get("workflowId"):
            workflow_id = str(execution["workflowId"])
            if workflow_id not in node_cache:
                node_cache[workflow_id] = client.workflow_nodes(workflow_id)
            nodes = node_cache[workflow_id]
        batch = []
        for run in runs_from_execution(execution, nodes):
            try:
                batch.append(RunIn.model_validate(run))
            except ValidationError as exc:
                report.skipped += 1
                log.warning("skipped %s: %s", run["id"], exc.errors(include_input=False)[0]["msg"])
        report.llm_calls += len(batch)
        if batch:
            for result in ledger.ingest(batch):
                if result.status == "created":
                    report.created += 1
                else:
                    report.duplicates += 1
        newest_done = max(newest_done, execution_id)
        if progress:
            progress(report)
    report.cursor = newest_done if oldest_unfinished is None else min(newest_done, oldest_unfinished - 1)
    _write_cursor(ledger.db, max(report.cursor, cursor))
    return report
