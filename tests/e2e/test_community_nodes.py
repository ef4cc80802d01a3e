"""The community node package ``n8n-nodes-breakeven``, built from n8n-nodes/, inside the session's real n8n.

The session fixture installs the package the way n8n's community-package installer lays it out, so these tests
see what users get: it loads, its Log node records the exact tokens of the fake Groq in the real ledger, and its
trigger subscribes itself, receives a real signed alert from ``breakeven check``, refuses forged calls and
unsubscribes when the workflow is deactivated.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import (
    NODE_PACKAGE_NAME,
    BreakevenService,
    DeadEndpoint,
    RecordingSink,
)
from tests.e2e.n8n_harness import (
    N8n,
    N8nError,
    describe,
    install_community_package,
    package_log_problems,
    parameter_problems,
)
from tests.e2e.test_workflows import backfill_past_breakeven, completion_for
from tests.fakes.groq import Completion, FakeGroq

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CHAT_NODE = WORKFLOWS / "groq-chat-breakeven-node.json"
ACTION_TYPE = f"{NODE_PACKAGE_NAME}.breakeven"
TRIGGER_TYPE = f"{NODE_PACKAGE_NAME}.breakevenTrigger"
CREDENTIAL_TYPE = "breakevenApi"
MODEL = "llama-3.3-70b-versatile"


@pytest.fixture(scope="module")
def node_types(n8n: N8n) -> list[dict[str, Any]]:
    return n8n.node_types()


CredentialFactory = Callable[[str, str], tuple[str, str]]


@pytest.fixture
def breakeven_credential(n8n: N8n) -> Iterator[CredentialFactory]:
    """Makes ``Breakeven API`` credentials (base URL, key) in the session n8n; returns (id, name) of each.

    ``breakeven_service`` runs on a new port in every test, so each test points a credential of its own at it.
    """
    made: list[str] = []

    def make(base_url: str, api_key: str) -> tuple[str, str]:
        name = f"Breakeven API {secrets.token_hex(4)}"
        credential_id = n8n.create_credential(name, CREDENTIAL_TYPE, {"baseUrl": base_url, "apiKey": api_key})
        made.append(credential_id)
        return credential_id, name

    yield make
    for credential_id in made:
        n8n.delete_credential(credential_id)


@pytest.fixture
def published(n8n: N8n) -> Iterator[list[str]]:
    """Ids a test published without a live service behind them; deactivated afterwards."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        n8n.unpublish(workflow_id)


@pytest.fixture
def active_workflows(n8n: N8n, breakeven_service: BreakevenService) -> Iterator[list[str]]:
    """Ids a test published; deactivated afterwards while the service still runs, so triggers can unsubscribe."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        if n8n.workflow(workflow_id).get("active"):
            n8n.unpublish(workflow_id)


def node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [candidate for candidate in workflow["nodes"] if candidate["name"] == name]
    assert len(matches) == 1, f"workflow {workflow['id']} has {len(matches)} nodes named {name!r}"
    return matches[0]


def chat_workflow(workflow_id: str, groq_base_url: str, credential: tuple[str, str], path: str) -> dict[str, Any]:
    """The exported chat workflow as a user would set it up: Config's base URL, their credential, a webhook path."""
    workflow = copy.deepcopy(json.loads(CHAT_NODE.read_text()))
    workflow["id"] = workflow_id
    workflow["name"] = f"{workflow['name']} ({workflow_id})"
    assignments = node(workflow, "Config")["parameters"]["assignments"]["assignments"]
    base_url = [assignment for assignment in assignments if assignment["name"] == "base_url"]
    assert len(base_url) == 1, "Config must keep its documented base_url switch"
    base_url[0]["value"] = groq_base_url
    hook = node(workflow, "Chat Webhook")
    hook["parameters"]["path"] = path
    hook["webhookId"] = str(uuid.uuid4())
    credential_id, credential_name = credential
    log = node(workflow, "Log Usage")
    assert log["type"] == ACTION_TYPE
    log["credentials"] = {CREDENTIAL_TYPE: {"id": credential_id, "name": credential_name}}
    return workflow


def answer_for(completion: Completion, logged: bool, cost_usd: float | None) -> dict[str, Any]:
    """What the chat workflow answers for ``completion``: Groq's numbers, unchanged."""
    return {
        "answer": completion.content,
        "model": MODEL,
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.total_tokens,
        },
        "logged": logged,
        "cost_usd": cost_usd,
    }


def ledger_usage(service: BreakevenService, workflow_id: str) -> dict[str, Any]:
    usage = service.get("/v1/usage", params={"workflow_id": workflow_id, "group_by": "model"})
    assert usage.status_code == 200, usage.text
    return dict(usage.json())


# --- installing it ---------------------------------------------------------------------------------------------------


def fake_package(root: Path, built: bool) -> Path:
    """A minimal package folder shaped like n8n-nodes/ (files are placeholders: nothing here is loaded)."""
    package = root / "package"
    manifest = {
        "name": "n8n-nodes-example",
        "version": "1.2.3",
        "files": ["dist"],
        "n8n": {"n8nNodesApiVersion": 1, "nodes": ["dist/nodes/Example.node.js"], "credentials": []},
        "peerDependencies": {"n8n-workflow": "*"},
        "devDependencies": {"typescript": "5.9.2"},
    }
    (package / "node_modules" / "n8n-workflow").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps(manifest))
    (package / "README.md").write_text("# example\n")
    if built:
        (package / "dist" / "nodes").mkdir(parents=True)
        (package / "dist" / "nodes" / "Example.node.js").write_text("module.exports = {};\n")
    return package


def test_install_refuses_an_unbuilt_package_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(N8nError, match=r"dist/nodes/Example\.node\.js missing\): run make nodes"):
        install_community_package(tmp_path / "user", fake_package(tmp_path, built=False))
    assert not (tmp_path / "user" / ".n8n").exists()


def test_install_lays_the_package_out_like_n8ns_installer(tmp_path: Path) -> None:
    package = fake_package(tmp_path, built=True)
    user = tmp_path / "user"

    assert install_community_package(user, package) == "n8n-nodes-example"
    (package / "dist" / "nodes" / "Example.node.js").write_text("module.exports = { rebuilt: true };\n")
    install_community_package(user, package)  # a restart installs the current build again

    nodes = user / ".n8n" / "nodes"
    installed = nodes / "node_modules" / "n8n-nodes-example"
    assert sorted(str(path.relative_to(installed)) for path in installed.rglob("*")) == [
        "README.md",
        "dist",
        "dist/nodes",
        "dist/nodes/Example.node.js",
        "package.json",
    ]
    assert "rebuilt" in (installed / "dist" / "nodes" / "Example.node.js").read_text()
    manifest = json.loads((installed / "package.json").read_text())
    assert "peerDependencies" not in manifest and "devDependencies" not in manifest
    assert manifest["n8n"]["nodes"] == ["dist/nodes/Example.node.js"]
    listing = json.loads((nodes / "package.json").read_text())
    assert listing["dependencies"] == {"n8n-nodes-example": "1.2.3"}


# --- the package loads ----------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_package_loads_its_nodes_and_credential(n8n: N8n, node_types: list[dict[str, Any]]) -> None:
    action = describe(node_types, ACTION_TYPE, 1)
    trigger = describe(node_types, TRIGGER_TYPE, 1)
    assert action is not None, f"n8n does not know {ACTION_TYPE}; log:\n{n8n.log_tail()}"
    assert trigger is not None, f"n8n does not know {TRIGGER_TYPE}; log:\n{n8n.log_tail()}"
    assert action["displayName"] == "Breakeven"
    assert [credential["name"] for credential in action["credentials"]] == [CREDENTIAL_TYPE]
    assert trigger["displayName"] == "Breakeven Trigger"
    assert "trigger" in trigger["group"]
    assert [webhook["httpMethod"] for webhook in trigger["webhooks"]] == ["POST"]

    credential = [c for c in n8n.credential_types() if c["name"] == CREDENTIAL_TYPE]
    assert len(credential) == 1, f"n8n does not know the credential type {CREDENTIAL_TYPE}"
    # n8n appends its own fields (allowed domains) to every credential type.
    assert {"baseUrl", "apiKey"} <= {prop["name"] for prop in credential[0]["properties"]}
    # A real copy, as n8n's installer leaves it: a symlink would load n8n-workflow from the package's dev folder.
    installed = n8n.user_folder / ".n8n" / "nodes" / "node_modules" / NODE_PACKAGE_NAME
    assert installed.is_dir() and not installed.is_symlink()
    assert n8n.package_problems(NODE_PACKAGE_NAME) == []


def test_package_log_check_recognises_n8ns_load_failures() -> None:
    """The log check above must be able to fail: n8n's own wording for a package it could not load is caught."""
    log = "\n".join(
        [
            "Initializing n8n process",
            f'Skipping package directory "{NODE_PACKAGE_NAME}": failed to load package metadata.',
            f'Failed to load package "{NODE_PACKAGE_NAME}"',
            "Editor is now accessible via:",
            'Failed to load package "n8n-nodes-other"',
        ]
    )
    problems = package_log_problems(log, NODE_PACKAGE_NAME)
    assert problems == log.splitlines()[1:3]


# --- Breakeven > Usage > Log --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_log_node_records_exact_groq_tokens_and_passes_the_item_on(
    n8n: N8n,
    fake_groq: FakeGroq,
    breakeven_service: BreakevenService,
    breakeven_credential: CredentialFactory,
    active_workflows: list[str],
) -> None:
    # An ingest-only key: the README promises it is enough for Usage > Log.
    credential = breakeven_credential(breakeven_service.url, breakeven_service.ingest_key)
    path = "e2e/chat-node"
    workflow = chat_workflow("e2eNodeChat", fake_groq.openai_base_url, credential, path)
    n8n.import_workflow_data(workflow)
    n8n.publish(workflow["id"])
    active_workflows.append(workflow["id"])
    n8n.wait_for_webhook(path)

    run = n8n.execute(workflow["id"])

    assert run.status == "success", run.error
    groq = run.node_items("Groq Chat Completion")[0]
    logged = run.node_items("Log Usage")
    assert len(logged) == 1
    ledger_answer = logged[0]["breakeven"]
    assert logged[0] == {**groq, "breakeven": ledger_answer}, "the item must pass through unchanged"
    assert ledger_answer["id"] == groq["x_groq"]["id"]
    assert ledger_answer["status"] == "created"
    assert ledger_answer["cost_usd"] > 0
    via_cli = completion_for(fake_groq, groq["x_groq"]["id"])
    assert run.node_items("Answer")[0] == answer_for(via_cli, logged=True, cost_usd=ledger_answer["cost_usd"])

    response = requests.post(n8n.webhook_url(path), json={"prompt": "Count me once, please."}, timeout=60)
    assert response.status_code == 200, response.text
    via_webhook = fake_groq.completions[-1]
    assert via_webhook.request_id != via_cli.request_id
    assert response.json() == answer_for(via_webhook, logged=True, cost_usd=response.json()["cost_usd"])

    usage = ledger_usage(breakeven_service, workflow["id"])
    assert [(row["provider"], row["model"]) for row in usage["rows"]] == [("groq", MODEL)]
    expected = {
        "prompts": 2,
        "prompt_tokens": via_cli.prompt_tokens + via_webhook.prompt_tokens,
        "completion_tokens": via_cli.completion_tokens + via_webhook.completion_tokens,
        "cached_tokens": 0,
    }
    assert {key: usage["totals"][key] for key in expected} == expected
    # Totals are rounded to whole micro-dollars; each run's cost is not.
    assert usage["totals"]["cost_usd"] == pytest.approx(
        ledger_answer["cost_usd"] + response.json()["cost_usd"], abs=1e-6
    )

    # Ledger down: the caller still gets the answer, marked as not logged.
    breakeven_service.stop()
    response = requests.post(n8n.webhook_url(path), json={"prompt": "Is anyone logging this?"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json() == answer_for(fake_groq.completions[-1], logged=False, cost_usd=None)


@pytest.mark.e2e
def test_log_node_retries_an_unreachable_ledger_then_lets_the_answer_through(
    n8n: N8n,
    fake_groq: FakeGroq,
    breakeven_credential: CredentialFactory,
    dead_endpoint: DeadEndpoint,
    published: list[str],
) -> None:
    """The exported settings promise three tries, 1 s apart, before Continue (On Error) lets the item go on."""
    credential = breakeven_credential(dead_endpoint.url, "any-key")
    path = "e2e/chat-node-retry"
    workflow = chat_workflow("e2eNodeChatRetry", fake_groq.openai_base_url, credential, path)
    n8n.import_workflow_data(workflow)
    n8n.publish(workflow["id"])
    published.append(workflow["id"])
    n8n.wait_for_webhook(path)
    log = node(workflow, "Log Usage")
    assert (log["retryOnFail"], log["maxTries"], log["onError"]) == (True, 3, "continueRegularOutput")

    started = time.monotonic()
    response = requests.post(n8n.webhook_url(path), json={"prompt": "Is anyone logging this?"}, timeout=60)

    assert response.status_code == 200, response.text
    assert response.json() == answer_for(fake_groq.completions[-1], logged=False, cost_usd=None)
    assert time.monotonic() - started < 30
    assert dead_endpoint.connections == log["maxTries"], (
        f"Retry On Fail: expected {log['maxTries']} attempts at the dead ledger, saw {dead_endpoint.connections}"
    )


# --- Breakeven Trigger --------------------------------------------------------------------------------------------


def trigger_workflow(workflow_id: str, webhook_id: str, credential: tuple[str, str], sink_url: str) -> dict[str, Any]:
    """Breakeven Trigger forwarding each alert it accepts to ``sink_url``."""
    credential_id, credential_name = credential
    return {
        "id": workflow_id,
        "name": f"Breakeven alerts ({workflow_id})",
        "nodes": [
            {
                "parameters": {
                    "events": ["breakeven.approaching", "breakeven.reached"],
                    "options": {"description": "e2e trigger"},
                },
                "id": str(uuid.uuid4()),
                "name": "Breakeven Trigger",
                "type": TRIGGER_TYPE,
                "typeVersion": 1,
                "position": [0, 0],
                "webhookId": webhook_id,
                "credentials": {CREDENTIAL_TYPE: {"id": credential_id, "name": credential_name}},
            },
            {
                "parameters": {
                    "method": "POST",
                    "url": sink_url,
                    "sendBody": True,
                    "specifyBody": "json",
                    "jsonBody": "={{ JSON.stringify($json) }}",
                    "options": {"timeout": 10000},
                },
                "id": str(uuid.uuid4()),
                "name": "Forward Alert",
                "type": "n8n-nodes-base.httpRequest",
                "typeVersion": 4.2,
                "position": [220, 0],
            },
        ],
        "connections": {"Breakeven Trigger": {"main": [[{"node": "Forward Alert", "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
        "active": False,
    }


def subscriptions_when(
    service: BreakevenService, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30
) -> list[dict[str, Any]]:
    """The service's subscriptions once ``done`` accepts them, or whatever they are when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        response = service.get("/v1/webhooks")
        assert response.status_code == 200, response.text
        found = list(response.json()["webhooks"])
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def signed_post(url: str, secret: str, body: str) -> requests.Response:
    webhook_id = f"msg_{secrets.token_hex(12)}"
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }
    return requests.post(url, data=body.encode(), headers=headers, timeout=30)


@pytest.mark.e2e
def test_trigger_subscribes_receives_a_real_alert_rejects_forgeries_and_unsubscribes(
    n8n: N8n,
    node_types: list[dict[str, Any]],
    breakeven_service: BreakevenService,
    breakeven_credential: CredentialFactory,
    sink: RecordingSink,
    active_workflows: list[str],
) -> None:
    credential = breakeven_credential(breakeven_service.url, breakeven_service.full_key)
    # The credential's own test request (GET /v1/webhooks) passes with a full-access key.
    tested = n8n.api("POST", f"/credentials/{credential[0]}/test")
    assert tested.status_code == 200 and tested.json().get("status") == "OK", tested.text
    webhook_id = str(uuid.uuid4())
    workflow = trigger_workflow("e2eNodeTrigger", webhook_id, credential, sink.url)
    assert parameter_problems(workflow, node_types) == []
    n8n.import_workflow_data(workflow)
    url = n8n.webhook_url(f"{webhook_id}/webhook")

    n8n.publish(workflow["id"])
    active_workflows.append(workflow["id"])

    # n8n registers the trigger's webhooks just after the activation call returns.
    subscriptions = subscriptions_when(breakeven_service, lambda found: len(found) > 0)
    assert len(subscriptions) == 1, subscriptions
    subscription = subscriptions[0]
    assert subscription["url"] == url
    assert sorted(subscription["events"]) == ["breakeven.approaching", "breakeven.reached"]
    assert subscription["description"] == "e2e trigger"
    assert subscription["enabled"] is True
    n8n.wait_for_webhook(f"{webhook_id}/webhook")

    forged_body = json.dumps({"type": "breakeven.reached", "timestamp": "2026-01-01T00:00:00Z", "data": {}})
    wrong_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    forged = signed_post(url, wrong_secret, forged_body)
    unsigned = requests.post(url, data=forged_body, headers={"content-type": "application/json"}, timeout=30)
    for response in (forged, unsigned):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "invalid_signature"

    status = backfill_past_breakeven(breakeven_service, MODEL)
    checked = breakeven_service.cli("check", "--json")
    assert checked.returncode == 0, checked.stderr

    received = sink.wait_for(1)
    history = breakeven_service.get("/v1/alerts").json()["alerts"]
    reached = [alert for alert in history if alert["type"] == "breakeven.reached"]
    assert len(reached) == 1, history
    deliveries = [delivery for delivery in reached[0]["deliveries"] if delivery["target"] == subscription["id"]]
    assert [(d["status"], d["last_status_code"]) for d in deliveries] == [("delivered", 200)], deliveries
    assert len(received) == 1, received
    alert = received[0]
    assert alert["webhookId"] == reached[0]["id"]
    assert alert["type"] == "breakeven.reached"
    assert alert["data"]["model"] == MODEL
    assert alert["data"]["breakeven_prompts_per_day"] == status["breakeven_prompts_per_day"]
    assert datetime.fromisoformat(alert["timestamp"]) <= datetime.now(UTC)
    # One execution, the real alert's: the two rejected calls started none (they came first, so they would show).
    executions = n8n.wait_for_executions(workflow["id"], 1)
    time.sleep(1)
    executions = n8n.executions(workflow["id"])
    assert [execution["status"] for execution in executions] == ["success"]
    assert len(sink.received) == 1

    n8n.unpublish(workflow["id"])

    assert subscriptions_when(breakeven_service, lambda found: found == []) == []
    gone = signed_post(url, wrong_secret, forged_body)
    assert gone.status_code == 404, gone.text
