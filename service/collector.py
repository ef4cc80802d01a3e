"""Collecting token usage that n8n's LangChain chat-model nodes keep to themselves.

AI Agent and Basic LLM Chain write each LLM call's `tokenUsage` only into the chat-model sub-node's run data,
where later nodes cannot read it. n8n's public API returns finished executions with that data; this module
turns each sub-node run into one ledger run whose id (execution, node, run index) is the same every time it is
read, so collecting twice never counts twice.

Where it stopped is kept as a cursor (every execution id up to it has been read) plus the ids at or below it
that had not finished yet, which are fetched one by one until they do. n8n's execution list leaves out the
executions that are running at that moment, so the list alone cannot tell a running execution from a gap; see
`collect` for how the cursor avoids passing one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
# Execution states that can still change; every other state (success, error, crashed, canceled) is final.
UNFINISHED = ("new", "running", "waiting")
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
    conflicts: int = 0
    skipped: int = 0
    cursor: int | None = None
    pending: int = 0


@dataclass
class _Position:
    cursor: int = 0
    pending: set[int] = field(default_factory=set)


def _provider_of(node_type: str) -> str | None:
    return CHAT_MODEL_PROVIDERS.get(node_type.rsplit(".", 1)[-1])


def _literal(value: object) -> str | None:
    if isinstance(value, dict):  # resource-locator parameters: {"__rl": true, "value": "...", "mode": "list"}
        value = value.get("value")
    # A value starting with "=" is an n8n expression, not a model name.
    return value if isinstance(value, str) and value and not value.startswith("=") else None


def _model_of(node: dict, node_run: dict) -> str | None:
    """The model in the node's parameters; for an expression, the value the node resolved it to for this call
    (n8n keeps the chat model's call options in the run's `inputOverride`)."""
    model = _literal((node.get("parameters") or {}).get("model"))
    if model:
        return model
    inputs = ((node_run.get("inputOverride") or {}).get("ai_languageModel") or [[]])[0] or []
    for item in inputs:
        options = ((item or {}).get("json") or {}).get("options") or {}
        model = _literal(options.get("model") or options.get("modelName"))
        if model:
            return model
    return None


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
                "model": _model_of(node, node_run) or "unknown",
                "prompt_tokens": int(usage.get("promptTokens") or 0),
                "completion_tokens": int(usage.get("completionTokens") or 0),
                "occurred_at": datetime.fromtimestamp(started / 1000, UTC).isoformat() if started else None,
                "workflow_id": str(execution.get("workflowId") or workflow.get("id") or "") or None,
                "workflow_name": workflow.get("name") or None,
                "execution_id": str(execution["id"]),
                "node": node_name,
                "latency_ms": int(node_run["executionTime"]) if node_run.get("executionTime") is not None else None,
                "status": "error" if node_run.get("error") else "success",
                "metadata": {"source": "n8n-collector", "run_index": index},
            }


def _finished(execution: dict) -> bool:
    status = execution.get("status")
    if status is None:  # n8n versions before execution statuses
        return bool(execution.get("finished") or execution.get("stoppedAt"))
    return status not in UNFINISHED


class N8nClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-N8N-API-KEY"] = api_key
        self.timeout = timeout

    def _get(self, path: str, params: dict | None = None, missing_ok: bool = False) -> dict | None:
        url = f"{self.base_url}/api/v1{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CollectorError(f"cannot reach n8n at {self.base_url} ({type(exc).__name__})") from exc
        if response.status_code in (401, 403):
            raise CollectorError(
                f"n8n at {self.base_url} refused the API key (HTTP {response.status_code}); it needs the "
                "execution:read, execution:list and workflow:read scopes"
            )
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 404 and path == "/executions":
            raise CollectorError(
                f"n8n at {self.base_url} has no public API at /api/v1 (HTTP 404): check the URL, and that "
                "N8N_PUBLIC_API_DISABLED is not set"
            )
        if response.status_code != 200:
            raise CollectorError(f"n8n at {self.base_url} answered HTTP {response.status_code} for {path}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CollectorError(
                f"{self.base_url} answered {path} with something that is not n8n's API JSON: is it n8n's base URL?"
            )
        return body

    def _pages(self, params: dict) -> Iterator[dict]:
        cursor = None
        while True:
            page = self._get("/executions", {**params, "limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})})
            yield from page.get("data") or []
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def executions_newest_first(self) -> Iterator[dict]:
        """Every execution with its data, newest first, except those running right now (n8n leaves them out)."""
        for execution in self._pages({"includeData": "true"}):
            if not (execution.get("data") or {}).get("resultData", {}).get("runData") and execution.get(
                "jsonSizeBytes"
            ):
                # Lists carry an empty run in place of an execution larger than n8n's display limit
                # (EXECUTIONS_DATA_MAX_DISPLAY_SIZE, 100 MiB by default); fetched alone it comes whole.
                execution = self.execution(str(execution["id"]), whole=True) or execution
            yield execution

    def unfinished_ids(self) -> set[int]:
        return {int(e["id"]) for status in UNFINISHED for e in self._pages({"status": status})}

    def newest_id(self) -> int | None:
        page = self._get("/executions", {"limit": 1})
        return max((int(e["id"]) for e in page.get("data") or []), default=None)

    def execution(self, execution_id: str, whole: bool = False) -> dict | None:
        """One execution with its data; None once it has been deleted."""
        params = {"includeData": "true", **({"ignoreDataSizeLimit": "true"} if whole else {})}
        return self._get(f"/executions/{execution_id}", params, missing_ok=True)

    def workflow_nodes(self, workflow_id: str) -> list[dict]:
        workflow = self._get(f"/workflows/{workflow_id}", missing_ok=True)
        return (workflow or {}).get("nodes") or []


def _read_position(db: Database) -> _Position:
    with db.read() as conn:
        value = conn.scalar(select(settings_kv.c.value).where(settings_kv.c.key == CURSOR_KEY))
    if not value:
        return _Position()
    stored = json.loads(value)
    if isinstance(stored, int):  # the first format held the cursor alone
        return _Position(stored)
    return _Position(int(stored["cursor"]), {int(i) for i in stored.get("pending", [])})


def _write_position(db: Database, position: _Position) -> None:
    value = json.dumps({"cursor": position.cursor, "pending": sorted(position.pending)})
    with db.write() as conn:
        stmt = db.insert(settings_kv).values(key=CURSOR_KEY, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def collect(
    ledger: Ledger, client: N8nClient, progress: Callable[[CollectReport], None] | None = None, from_start: bool = False
) -> CollectReport:
    """Logs the LLM calls of every finished execution not read before, then remembers where it stopped.

    n8n's list leaves out running executions, so before listing, the ids of every unfinished execution are
    noted (to be fetched one by one later) and so is the newest id: the cursor never passes an execution that
    did not exist yet then, since it may be running, and so missing, while the list is read.
    """
    report = CollectReport()
    before = _Position() if from_start else _read_position(ledger.db)
    unfinished = client.unfinished_ids()
    ceiling = max([before.cursor, client.newest_id() or 0, *unfinished])
    pending: set[int] = set()
    done: set[int] = set()
    node_cache: dict[str, list[dict]] = {}

    def read(execution: dict) -> None:
        report.executions += 1
        done.add(int(execution["id"]))
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
        for result in ledger.ingest(batch) if batch else []:
            if result.status == "created":
                report.created += 1
            elif result.status == "duplicate":
                report.duplicates += 1
            else:
                report.conflicts += 1
                log.warning("%s is already in the ledger with other numbers; kept the stored run", result.id)
        if progress:
            progress(report)

    for execution_id in sorted(before.pending):
        execution = client.execution(str(execution_id))
        if execution is None:
            continue  # deleted before it finished
        if _finished(execution):
            read(execution)
        else:
            pending.add(execution_id)
    for execution in client.executions_newest_first():
        execution_id = int(execution["id"])
        if execution_id <= before.cursor:
            break
        if execution_id > ceiling:
            continue  # started after the unfinished ones were noted: the next collection reads it
        if _finished(execution):
            read(execution)
        else:
            pending.add(execution_id)
    pending = (pending | unfinished) - done
    _write_position(ledger.db, _Position(ceiling, pending))
    report.cursor, report.pending = ceiling, len(pending)
    return report
