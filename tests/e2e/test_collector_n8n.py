"""`breakeven collect-n8n` against a real n8n: an AI Agent with the Groq Chat Model (pointed at the fake Groq)
runs, and the collector logs each LLM call exactly once with the tokens the fake reported.

The n8n is shared by the whole session, so other tests' executions are in it too: each test first collects
once to absorb them, then counts only what its own runs add.
"""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from service.collector import runs_from_execution
from service.db import runs as runs_table
from tests.e2e.conftest import BREAKEVEN, GROQ_CREDENTIAL, BreakevenService
from tests.e2e.n8n_harness import N8n, free_port, n8n_home
from tests.fakes.groq import Completion, FakeGroq

WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "langchain-agent-groq.json"
MODEL_NODE = "Groq Chat Model"
COLLECT_TIMEOUT_S = 120
# Far below any agent execution's size: n8n's lists then carry an empty run in place of the execution's data.
SMALL_DISPLAY_BYTES = 1000


def exported() -> dict[str, Any]:
    return dict(json.loads(WORKFLOW.read_text()))


def node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in workflow["nodes"] if entry["name"] == name)


EXPORTED_MODEL = node(exported(), MODEL_NODE)["parameters"]["model"]


def test_runs_from_execution_resolves_an_expression_model_from_the_call() -> None:
    """With `={{ ... }}` as the model, the stored run names what the node really called, never the expression."""
    execution = {
        "id": "7",
        "workflowId": "wf",
        "status": "success",
        "workflowData": {
            "nodes": [
                {
                    "name": MODEL_NODE,
                    "type": "@n8n/n8n-nodes-langchain.lmChatGroq",
                    "parameters": {"model": "={{ $json.model }}"},
                }
            ]
        },
        "data": {
            "resultData": {
                "runData": {
                    MODEL_NODE: [
                        {
                            "startTime": 1_764_000_000_000,
                            "executionTime": 12,
                            "inputOverride": {
                                "ai_languageModel": [[{"json": {"options": {"model": "llama-3.1-8b-instant"}}}]]
                            },
                            "data": {
                                "ai_languageModel": [
                                    [{"json": {"tokenUsage": {"promptTokens": 9, "completionTokens": 4}}}]
                                ]
                            },
                        }
                    ]
                }
            }
        },
    }
    (run,) = runs_from_execution(execution)
    assert run["model"] == "llama-3.1-8b-instant"
    del execution["data"]["resultData"]["runData"][MODEL_NODE][0]["inputOverride"]
    (run,) = runs_from_execution(execution)
    assert run["model"] == "unknown"


def test_export_keeps_a_fixed_model_on_the_groq_node() -> None:
    """The collector records the model the node names; an expression there would need the fallback above."""
    workflow = exported()
    model_node = node(workflow, MODEL_NODE)
    assert model_node["type"] == "@n8n/n8n-nodes-langchain.lmChatGroq"
    assert isinstance(EXPORTED_MODEL, str) and EXPORTED_MODEL and not EXPORTED_MODEL.startswith("=")
    assert model_node["credentials"] == {"groqApi": {"id": None, "name": "Groq account"}}
    assert workflow["connections"][MODEL_NODE]["ai_languageModel"] == [
        [{"node": "AI Agent", "type": "ai_languageModel", "index": 0}]
    ]
    notes = " ".join(n["parameters"]["content"] for n in workflow["nodes"] if n["type"].endswith("stickyNote"))
    assert "breakeven collect-n8n" in notes


# --- against the real n8n --------------------------------------------------------------------------------------


def agent_workflow(workflow_id: str, webhook_path: str, hold_seconds: int | None = None) -> dict[str, Any]:
    """A copy of the export under its own id and webhook path. With ``hold_seconds``, the execution keeps
    running that long after answering (a Wait node under 65 s waits inside the running execution)."""
    workflow = copy.deepcopy(exported())
    workflow["id"] = workflow_id
    workflow["name"] = f"{workflow['name']} ({workflow_id})"
    hook = node(workflow, "Chat Webhook")
    hook["parameters"]["path"] = webhook_path
    hook["webhookId"] = f"00000000-0000-4000-8000-{secrets.token_hex(6)}"
    if hold_seconds is not None:
        workflow["nodes"].append(
            {
                "parameters": {"resume": "timeInterval", "amount": hold_seconds, "unit": "seconds"},
                "id": "e2e-hold",
                "name": "Hold",
                "type": "n8n-nodes-base.wait",
                "typeVersion": 1.1,
                "position": [1280, 0],
                "webhookId": f"00000000-0000-4000-8000-{secrets.token_hex(6)}",
            }
        )
        workflow["connections"]["Respond with Answer"] = {"main": [[{"node": "Hold", "type": "main", "index": 0}]]}
    return workflow


@pytest.fixture
def published(n8n: N8n) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        n8n.unpublish(workflow_id)


def publish(n8n: N8n, published: list[str], *workflows: dict[str, Any]) -> None:
    n8n.import_workflow_data(*workflows)  # one CLI start for all: each costs seconds
    for workflow in workflows:
        n8n.publish(workflow["id"])
        published.append(workflow["id"])
        n8n.wait_for_webhook(node(workflow, "Chat Webhook")["parameters"]["path"])


def ask(n8n: N8n, workflow: dict[str, Any], prompt: str) -> dict[str, Any]:
    """POSTs a prompt to the workflow's production webhook; returns its answer (with the execution id)."""
    path = node(workflow, "Chat Webhook")["parameters"]["path"]
    response = requests.post(n8n.webhook_url(path), json={"prompt": prompt}, timeout=120)
    assert response.status_code == 200, response.text
    return dict(response.json())


def collect(service: BreakevenService, n8n: N8n, *args: str) -> dict[str, Any]:
    """`breakeven collect-n8n --json` on the service's database, as a user would run it."""
    done = service.cli(
        "collect-n8n",
        "--n8n-url",
        n8n.base_url,
        "--n8n-api-key",
        str(n8n.api_key),
        "--json",
        *args,
        timeout=COLLECT_TIMEOUT_S,
    )
    assert done.returncode == 0, f"collect-n8n exited {done.returncode}:\n{done.stderr[-3000:]}"
    return dict(json.loads(done.stdout))


def ledger_runs(service: BreakevenService, workflow_id: str) -> dict[str, dict[str, Any]]:
    """The stored runs of one workflow by id, read from the service's own database."""
    engine = create_engine(service.env["BREAKEVEN_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(runs_table).where(runs_table.c.workflow_id == workflow_id)).mappings().all()
    finally:
        engine.dispose()
    return {row["id"]: dict(row) for row in rows}


def expected_run(workflow: dict[str, Any], execution_id: str, completion: Completion) -> dict[str, Any]:
    return {
        "id": f"n8n:{execution_id}:{MODEL_NODE}:0",
        "provider": "groq",
        "model": EXPORTED_MODEL,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "cached_tokens": 0,
        "workflow_id": workflow["id"],
        "workflow_name": workflow["name"],
        "execution_id": execution_id,
        "node": MODEL_NODE,
        "status": "success",
    }


def assert_ledger_holds(service: BreakevenService, workflow: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    stored = ledger_runs(service, workflow["id"])
    assert sorted(stored) == sorted(run["id"] for run in expected)
    for run in expected:
        row = stored[run["id"]]
        assert {key: row[key] for key in run} == run
        assert json.loads(row["metadata"]) == {"source": "n8n-collector", "run_index": 0}
        assert 0 <= row["latency_ms"] < 120_000

    by_workflow = service.get("/v1/usage", params={"group_by": "workflow", "workflow_id": workflow["id"]})
    assert by_workflow.status_code == 200, by_workflow.text
    (row,) = by_workflow.json()["rows"]
    assert row["workflow_id"] == workflow["id"]
    assert row["prompts"] == len(expected)
    assert row["prompt_tokens"] == sum(run["prompt_tokens"] for run in expected)
    assert row["completion_tokens"] == sum(run["completion_tokens"] for run in expected)
    by_model = service.get("/v1/usage", params={"group_by": "model", "workflow_id": workflow["id"]})
    assert [(r["provider"], r["model"], r["prompts"]) for r in by_model.json()["rows"]] == [
        ("groq", EXPORTED_MODEL, len(expected))
    ]


def completion_of(fake: FakeGroq, answer: str) -> Completion:
    """The one completion whose content the workflow answered with (the fake numbers its answers)."""
    matches = [completion for completion in fake.completions if completion.content == answer]
    assert len(matches) == 1, f"{len(matches)} completions answered {answer!r}"
    return matches[0]


@pytest.mark.e2e
def test_collect_n8n_logs_each_agent_llm_call_once_with_exact_tokens(
    n8n: N8n, fake_groq: FakeGroq, breakeven_service: BreakevenService, published: list[str]
) -> None:
    workflow = agent_workflow("e2eCollector", "e2e/collector")
    publish(n8n, published, workflow)
    collect(breakeven_service, n8n)  # absorbs what other tests left in the shared n8n

    # The Manual Trigger route (`n8n execute`), then the production webhook.
    executed = n8n.execute(workflow["id"])
    assert executed.status == "success", executed.error
    first = executed.node_items("Answer")[0]
    second = ask(n8n, workflow, "Which open model would you self-host first, and why?")
    calls = [(first["execution_id"], completion_of(fake_groq, first["answer"]))]
    calls.append((second["execution_id"], completion_of(fake_groq, second["answer"])))
    assert calls[0][1].model == calls[1][1].model == EXPORTED_MODEL
    # The fake varies its counts per request: equal numbers would let a constant pass for the real ones.
    assert calls[0][1].prompt_tokens != calls[1][1].prompt_tokens
    n8n.wait_for_executions(workflow["id"], 2)

    report = collect(breakeven_service, n8n)

    newest = max(int(execution_id) for execution_id, _ in calls)
    assert report == {
        "executions": 2,
        "llm_calls": 2,
        "created": 2,
        "duplicates": 0,
        "conflicts": 0,
        "skipped": 0,
        "cursor": newest,
        "pending": 0,
    }
    expected = [expected_run(workflow, execution_id, completion) for execution_id, completion in calls]
    assert_ledger_holds(breakeven_service, workflow, expected)

    again = collect(breakeven_service, n8n)
    assert (again["executions"], again["created"], again["cursor"]) == (0, 0, newest)
    # Re-reading everything from the start finds the same runs with the same content: duplicates, never
    # new runs and never conflicts.
    everything = collect(breakeven_service, n8n, "--from-start")
    assert everything["created"] == 0 and everything["conflicts"] == 0
    assert everything["duplicates"] == everything["llm_calls"] >= 2
    assert_ledger_holds(breakeven_service, workflow, expected)

    third = ask(n8n, workflow, "And at what daily volume does it pay off?")
    calls.append((third["execution_id"], completion_of(fake_groq, third["answer"])))
    n8n.wait_for_executions(workflow["id"], 3)
    report = collect(breakeven_service, n8n)
    assert (report["executions"], report["created"], report["duplicates"]) == (1, 1, 0)
    assert report["cursor"] == int(third["execution_id"]) > newest
    expected.append(expected_run(workflow, third["execution_id"], calls[2][1]))
    assert_ledger_holds(breakeven_service, workflow, expected)

    # An execution without an LLM call (the webhook refused an empty prompt) is read and adds nothing.
    refused = requests.post(n8n.webhook_url("e2e/collector"), json={"prompt": " "}, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request"
    n8n.wait_for_executions(workflow["id"], 4)
    report = collect(breakeven_service, n8n)
    assert (report["executions"], report["llm_calls"], report["created"]) == (1, 0, 0)
    assert_ledger_holds(breakeven_service, workflow, expected)


@pytest.mark.e2e
def test_an_execution_running_while_collecting_is_logged_once_it_finishes(
    n8n: N8n, fake_groq: FakeGroq, breakeven_service: BreakevenService, published: list[str]
) -> None:
    """n8n's execution list leaves out running executions: a later, finished one must not carry the
    collector's cursor past them for good."""
    hold_seconds = 25
    slow = agent_workflow("e2eCollectorSlow", "e2e/collector-slow", hold_seconds=hold_seconds)
    fast = agent_workflow("e2eCollectorFast", "e2e/collector-fast")
    publish(n8n, published, slow, fast)
    collect(breakeven_service, n8n)

    slow_answer = ask(n8n, slow, "A long-running agent call")
    fast_answer = ask(n8n, fast, "A quick agent call")
    assert int(fast_answer["execution_id"]) > int(slow_answer["execution_id"])
    n8n.wait_for_executions(fast["id"], 1)
    running = n8n.api("GET", "/executions", params={"status": "running"}).json()["data"]
    listed = n8n.api("GET", "/executions", params={"limit": 250}).json()["data"]
    assert slow_answer["execution_id"] in {execution["id"] for execution in running}
    assert slow_answer["execution_id"] not in {execution["id"] for execution in listed}

    report = collect(breakeven_service, n8n)

    still = n8n.api("GET", f"/executions/{slow_answer['execution_id']}").json()
    if still["status"] != "running":
        pytest.fail(f"the held execution finished before collect-n8n did: raise hold_seconds ({hold_seconds})")
    assert (report["executions"], report["created"], report["pending"]) == (1, 1, 1)
    assert_ledger_holds(
        breakeven_service,
        fast,
        [expected_run(fast, fast_answer["execution_id"], completion_of(fake_groq, fast_answer["answer"]))],
    )
    assert ledger_runs(breakeven_service, slow["id"]) == {}

    n8n.wait_for_executions(slow["id"], 1, timeout=hold_seconds + 30)
    report = collect(breakeven_service, n8n)

    assert (report["executions"], report["created"], report["pending"]) == (1, 1, 0)
    assert_ledger_holds(
        breakeven_service,
        slow,
        [expected_run(slow, slow_answer["execution_id"], completion_of(fake_groq, slow_answer["answer"]))],
    )
    assert collect(breakeven_service, n8n)["created"] == 0


@pytest.mark.e2e
def test_collect_n8n_refuses_a_wrong_key_without_printing_it(n8n: N8n, breakeven_service: BreakevenService) -> None:
    wrong_key = "n8n_api_wrong" + secrets.token_hex(16)
    env = {**breakeven_service.env, "BREAKEVEN_N8N_URL": n8n.base_url, "BREAKEVEN_N8N_API_KEY": wrong_key}
    done = subprocess.run(
        [str(BREAKEVEN), "collect-n8n"],
        env=env,
        cwd=breakeven_service.workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COLLECT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 1
    assert "refused the API key (HTTP 401)" in done.stderr
    assert "execution:read" in done.stderr  # tells which scopes a key needs
    assert wrong_key not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr

    nobody = f"http://127.0.0.1:{free_port()}"
    done = breakeven_service.cli("collect-n8n", "--n8n-url", nobody, "--n8n-api-key", wrong_key)
    assert done.returncode == 1
    assert f"cannot reach n8n at {nobody}" in done.stderr
    assert wrong_key not in done.stdout + done.stderr

    missing = breakeven_service.cli("collect-n8n")
    assert missing.returncode == 2 and "--n8n-api-key" in missing.stderr


@pytest.fixture(scope="module")
def small_display_n8n(fake_groq: FakeGroq, tmp_path_factory: pytest.TempPathFactory) -> Iterator[N8n]:
    """A second real n8n whose display limit every agent execution exceeds (the shared one keeps the default)."""
    instance = N8n(
        home=n8n_home(),
        groq_base_url=fake_groq.base_url,
        workdir=tmp_path_factory.mktemp("n8n-small-display"),
        extra_env={"EXECUTIONS_DATA_MAX_DISPLAY_SIZE": str(SMALL_DISPLAY_BYTES)},
    )
    try:
        instance.start()
        instance.setup_owner()
        instance.import_credentials(
            [{"id": "e2eGroq", "name": GROQ_CREDENTIAL, "type": "groqApi", "data": {"apiKey": fake_groq.api_key}}]
        )
        yield instance
    finally:
        instance.stop()


@pytest.mark.e2e
def test_an_execution_over_n8ns_display_limit_is_fetched_whole(
    small_display_n8n: N8n, fake_groq: FakeGroq, breakeven_service: BreakevenService
) -> None:
    n8n = small_display_n8n
    workflow = agent_workflow("e2eCollectorBig", "e2e/collector-big")
    n8n.import_workflow_data(workflow)
    n8n.publish(workflow["id"])
    n8n.wait_for_webhook("e2e/collector-big")
    answer = ask(n8n, workflow, "An answer too large to list")
    (listed,) = n8n.wait_for_executions(workflow["id"], 1, include_data=True)
    assert listed["data"]["resultData"]["runData"] == {} and listed["jsonSizeBytes"] > SMALL_DISPLAY_BYTES

    report = collect(breakeven_service, n8n)

    assert (report["executions"], report["created"]) == (1, 1)
    completion = completion_of(fake_groq, answer["answer"])
    assert_ledger_holds(breakeven_service, workflow, [expected_run(workflow, answer["execution_id"], completion)])
