"""The exported workflows in workflows/, checked and run by a real n8n against the fake Groq.

Each test imports its own copy of a workflow with the documented switches applied (Config's URLs, the webhook
path, the alert secret), so the shared n8n never holds two published workflows on the same path.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import (
    API_CREDENTIAL,
    GROQ_CREDENTIAL,
    INGEST_CREDENTIAL,
    NODE_CREDENTIAL,
    NODE_CREDENTIAL_ID,
    SLACK_CREDENTIAL,
    BreakevenService,
    DeadEndpoint,
    RecordingSink,
)
from tests.e2e.n8n_harness import N8n, parameter_problems
from tests.fakes.groq import Completion, FakeGroq

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.json"))
CHAT = WORKFLOWS / "groq-chat-usage-logging.json"
ALERTS = WORKFLOWS / "breakeven-alert-receiver.json"
REPORT = WORKFLOWS / "daily-breakeven-report.json"
# The ids the session fixture gave the credentials it imported, by the names the workflows use.
CREDENTIAL_IDS = {
    GROQ_CREDENTIAL: "e2eGroq",
    INGEST_CREDENTIAL: "e2eIngest",
    API_CREDENTIAL: "e2eApi",
    SLACK_CREDENTIAL: "e2eSlack",
    NODE_CREDENTIAL: NODE_CREDENTIAL_ID,
}
TRIGGER_TYPES = {"webhook", "manualTrigger", "scheduleTrigger"}
SECRET_PATTERNS = [
    re.compile(r"gsk_[A-Za-z0-9]{8,}"),  # Groq API key
    re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),  # webhook signing secret
    re.compile(r"xox[abpr]-[A-Za-z0-9-]{8,}"),  # Slack token
    re.compile(r"Bearer [A-Za-z0-9._~+/=-]{12,}"),  # a filled-in Authorization header
]


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    for candidate in workflow["nodes"]:
        if candidate["name"] == name:
            return candidate
    raise AssertionError(f"workflow {workflow['id']} has no node named {name!r}")


def configured(path: Path, workflow_id: str, config: dict[str, Any], webhook_path: str | None = None) -> dict[str, Any]:
    """A copy of an exported workflow with the Config node's values replaced, as a user would fill them in.

    Fails when a key is not in Config: the documented switch must exist under the documented name.
    """
    workflow = copy.deepcopy(load(path))
    workflow["id"] = workflow_id
    workflow["name"] = f"{workflow['name']} ({workflow_id})"
    assignments = {a["name"]: a for a in node(workflow, "Config")["parameters"]["assignments"]["assignments"]}
    for key, value in config.items():
        assert key in assignments, f"Config of {path.name} has no {key!r}; it has {sorted(assignments)}"
        assignments[key]["value"] = value
    for candidate in workflow["nodes"]:
        if candidate["type"] == "n8n-nodes-base.webhook":
            assert webhook_path is not None, "a workflow with a webhook needs a path of its own in tests"
            candidate["parameters"]["path"] = webhook_path
            candidate["webhookId"] = f"00000000-0000-4000-8000-{secrets.token_hex(6)}"
    return workflow


def completion_for(fake: FakeGroq, request_id: str) -> Completion:
    matches = [c for c in fake.completions if c.request_id == request_id]
    assert len(matches) == 1, f"the fake Groq answered {request_id!r} {len(matches)} times"
    return matches[0]


@pytest.fixture
def published(n8n: N8n) -> Iterator[list[str]]:
    """Collects ids a test published and unpublishes them afterwards, so webhooks do not leak across tests."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        n8n.unpublish(workflow_id)


def publish(n8n: N8n, published: list[str], workflow: dict[str, Any], webhook_path: str | None = None) -> None:
    n8n.import_workflow_data(workflow)
    n8n.publish(workflow["id"])
    published.append(workflow["id"])
    if webhook_path is not None:
        n8n.wait_for_webhook(webhook_path)


# --- the exports themselves (no n8n needed) -----------------------------------------------------------------


def test_workflow_folder_holds_the_three_workflows() -> None:
    assert {CHAT.name, ALERTS.name, REPORT.name} <= {path.name for path in WORKFLOW_FILES}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.stem)
def test_export_is_portable(path: Path) -> None:
    """No credential ids, secrets or $env; an explicit short id; sticky notes; every trigger feeds Config."""
    text = path.read_text()
    workflow = load(path)
    assert 0 < len(workflow["id"]) <= 21, "n8n import needs an explicit id of at most 21 characters"
    assert workflow["active"] is False
    assert "$env" not in text, "workflows must not depend on $env (blocked by default in n8n 2.x)"
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{path.name} contains something that looks like a secret: {pattern.pattern}"
    names = [n["name"] for n in workflow["nodes"]]
    assert len(names) == len(set(names))
    for entry in workflow["nodes"]:
        for credential_type, reference in entry.get("credentials", {}).items():
            # An explicit null id makes n8n resolve the credential by name and type on import; without the key,
            # n8n 2.41's lookup by an undefined id matches any credential of that type.
            assert "id" in reference and reference["id"] is None, f"{entry['name']}: credential id must be null"
            assert reference.get("name"), f"{entry['name']}: {credential_type} must name its credential"
    assert any(n["type"] == "n8n-nodes-base.stickyNote" for n in workflow["nodes"])
    triggers = [n["name"] for n in workflow["nodes"] if n["type"].split(".")[-1] in TRIGGER_TYPES]
    assert triggers
    for trigger in triggers:
        assert workflow["connections"][trigger]["main"] == [[{"node": "Config", "type": "main", "index": 0}]]
    for name in workflow["connections"]:
        assert name in names, f"connection from unknown node {name!r}"
    readme = (WORKFLOWS / "README.md").read_text()
    assert path.name in readme


def test_readme_documents_every_credential_and_the_crypto_setting() -> None:
    readme = (WORKFLOWS / "README.md").read_text()
    used = {
        reference["name"]
        for path in WORKFLOW_FILES
        for entry in load(path)["nodes"]
        for reference in entry.get("credentials", {}).values()
    }
    assert used == set(CREDENTIAL_IDS), "the e2e fixture must import every credential the workflows use"
    for name in used:
        assert name in readme, f"workflows/README.md does not tell users to create {name!r}"
    assert "NODE_FUNCTION_ALLOW_BUILTIN=crypto" in readme


def test_chat_config_defaults_to_groq() -> None:
    config = {a["name"]: a["value"] for a in node(load(CHAT), "Config")["parameters"]["assignments"]["assignments"]}
    assert config["base_url"] == "https://api.groq.com/openai/v1"
    assert config["model"] == "llama-3.3-70b-versatile"
    assert config["provider"] == "groq"


# --- checked by the real n8n ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def known_node_types(n8n: N8n) -> list[dict[str, Any]]:
    return n8n.node_types()


@pytest.mark.e2e
@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.stem)
def test_n8n_imports_and_validates_export(
    path: Path, n8n: N8n, known_node_types: list[dict[str, Any]], published: list[str]
) -> None:
    """Import as-is, then let n8n judge: credentials resolve by name, every parameter is one the node knows,
    and publishing (n8n's own check of node types, versions, required parameters and credentials) succeeds
    with the disabled notification nodes switched on too."""
    workflow = load(path)
    n8n.import_workflows([path])
    for entry in n8n.workflow(workflow["id"])["nodes"]:
        for reference in entry.get("credentials", {}).values():
            # n8n links credentials by name for enabled nodes only; a disabled node keeps its null id until
            # the user enables it and picks the credential.
            expected = None if entry.get("disabled") else CREDENTIAL_IDS[reference["name"]]
            assert reference == {"id": expected, "name": reference["name"]}, entry["name"]

    everything_on = copy.deepcopy(workflow)
    for entry in everything_on["nodes"]:
        entry.pop("disabled", None)
        if entry["type"] == "n8n-nodes-base.webhook":
            entry["parameters"]["path"] = f"validate/{workflow['id']}"
    n8n.import_workflow_data(everything_on)
    stored = n8n.workflow(workflow["id"])
    for entry in stored["nodes"]:
        for credential_type, reference in entry.get("credentials", {}).items():
            assert reference == {"id": CREDENTIAL_IDS[reference["name"]], "name": reference["name"]}, (
                f"{entry['name']}: n8n did not resolve {credential_type} credential {reference['name']!r} by name"
            )
    assert parameter_problems(stored, known_node_types) == []
    assert n8n.publish(workflow["id"])["active"] is True
    published.append(workflow["id"])

    # The README's third route: the public API takes the export minus its read-only fields.
    created = n8n.api(
        "POST", "/workflows", json={key: workflow[key] for key in ("name", "nodes", "connections", "settings")}
    )
    assert created.status_code == 200, created.text
    for entry in created.json()["nodes"]:
        for reference in entry.get("credentials", {}).values():
            expected = None if entry.get("disabled") else CREDENTIAL_IDS[reference["name"]]
            assert reference["id"] == expected, entry["name"]
    assert n8n.api("DELETE", f"/workflows/{created.json()['id']}").status_code == 200


@pytest.mark.e2e
def test_parameter_check_catches_typos(n8n: N8n, known_node_types: list[dict[str, Any]]) -> None:
    """The static half of the check above must be able to fail."""
    broken = load(REPORT)
    for entry in broken["nodes"]:
        if entry["name"] == "Get Break-even Status":
            entry["parameters"]["ulr"] = "http://x"
            entry["parameters"]["method"] = "FETCH"
        if entry["name"] == "Format Report":
            entry["typeVersion"] = 9
    problems = "\n".join(parameter_problems(broken, known_node_types))
    assert "unknown parameter 'ulr'" in problems
    assert "'FETCH' is not one of" in problems
    assert "Format Report: n8n has no node type 'n8n-nodes-base.set' version 9" in problems


# --- Groq chat with usage logging -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_chat_via_n8n_execute_answers_with_exact_tokens_while_ledger_is_down(
    n8n: N8n, fake_groq: FakeGroq, dead_endpoint: DeadEndpoint
) -> None:
    workflow = configured(
        CHAT,
        "e2eChatCli",
        {"base_url": fake_groq.openai_base_url, "ledger_url": dead_endpoint.url},
        webhook_path="e2e/chat-cli",
    )
    n8n.import_workflow_data(workflow)

    result = n8n.execute(workflow["id"])

    assert result.status == "success", result.error
    record = result.node_items("Build Usage Record")[0]["run"]
    completion = completion_for(fake_groq, record["id"])
    default_prompt = next(
        a["value"]
        for a in node(workflow, "Config")["parameters"]["assignments"]["assignments"]
        if a["name"] == "default_prompt"
    )
    assert completion.messages == [{"role": "user", "content": default_prompt}]
    assert record["prompt_tokens"] == completion.prompt_tokens
    assert record["completion_tokens"] == completion.completion_tokens
    assert record["cached_tokens"] == 0
    assert record["model"] == "llama-3.3-70b-versatile"
    assert record["provider"] == "groq"
    assert record["workflow_id"] == "e2eChatCli"
    assert record["execution_id"] in {execution["id"] for execution in n8n.executions("e2eChatCli")}
    assert record["node"] == "Groq Chat Completion"
    assert record["status"] == "success"
    assert 0 <= record["latency_ms"] < 60_000
    assert datetime.fromisoformat(record["occurred_at"]) <= datetime.now(UTC)

    answer = result.node_items("Answer")[0]
    assert answer == {
        "answer": completion.content,
        "model": "llama-3.3-70b-versatile",
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.total_tokens,
        },
        "logged": False,
    }
    # maxTries=3: the logging step tried three times before giving up and letting the answer through.
    assert dead_endpoint.connections == 3


@pytest.mark.e2e
def test_chat_via_production_webhook_answers_with_exact_tokens_while_ledger_is_down(
    n8n: N8n, fake_groq: FakeGroq, dead_endpoint: DeadEndpoint, published: list[str]
) -> None:
    workflow = configured(
        CHAT, "e2eChatHook", {"base_url": fake_groq.openai_base_url, "ledger_url": dead_endpoint.url}, "e2e/chat"
    )
    publish(n8n, published, workflow, "e2e/chat")

    answers = []
    for prompt in ("How many tokens is this prompt?", "And this slightly longer prompt, how many tokens?"):
        response = requests.post(
            n8n.webhook_url("e2e/chat"), json={"prompt": prompt, "system": "Answer briefly."}, timeout=60
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())

    first, second = fake_groq.completions[-2:]
    assert first.messages == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "How many tokens is this prompt?"},
    ]
    for body, completion in zip(answers, (first, second), strict=True):
        assert body == {
            "answer": completion.content,
            "model": "llama-3.3-70b-versatile",
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.total_tokens,
            },
            "logged": False,
        }
    # The fake varies its counts per request: equal numbers would mean a constant slipped through.
    assert answers[0]["usage"] != answers[1]["usage"]

    missing_prompt = requests.post(n8n.webhook_url("e2e/chat"), json={"system": "x"}, timeout=60)
    assert missing_prompt.status_code == 400
    assert missing_prompt.json()["error"]["code"] == "invalid_request"
    assert "prompt" in missing_prompt.json()["error"]["message"]


@pytest.mark.e2e
def test_chat_reports_an_llm_failure_as_502(n8n: N8n, fake_groq: FakeGroq, published: list[str]) -> None:
    workflow = configured(
        CHAT,
        "e2eChatFail",
        {"base_url": fake_groq.openai_base_url, "model": "no-such-model", "ledger_url": "http://127.0.0.1:9"},
        "e2e/chat-fail",
    )
    publish(n8n, published, workflow, "e2e/chat-fail")

    response = requests.post(n8n.webhook_url("e2e/chat-fail"), json={"prompt": "hi"}, timeout=60)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "llm_failed"
    assert "no-such-model" in error["message"]
    # The run is also marked failed in n8n, so error workflows and the executions list show it.
    executions = n8n.wait_for_executions("e2eChatFail", 1)
    assert executions[0]["status"] == "error"


# --- Break-even alert receiver -----------------------------------------------------------------------------------


ALERT_PATH = "e2e/alerts"


@pytest.fixture(scope="module")
def alert_sink() -> Iterator[RecordingSink]:
    sink = RecordingSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def alert_receiver(n8n: N8n, alert_sink: RecordingSink) -> Iterator[str]:
    """The receiver, published with a fresh secret and forwarding accepted alerts to ``alert_sink``."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    workflow = configured(
        ALERTS, "e2eAlerts", {"webhook_secret": secret, "forward_url": alert_sink.url}, webhook_path=ALERT_PATH
    )
    n8n.import_workflow_data(workflow)
    n8n.publish("e2eAlerts")
    n8n.wait_for_webhook(ALERT_PATH)
    yield secret
    n8n.unpublish("e2eAlerts")


def alert_body(event_type: str, message: str) -> str:
    data = {"model": "groq/llama-3.3-70b-versatile", "daily_prompts": 3210.5, "message": message}
    return json.dumps({"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data})


def deliver(
    n8n: N8n,
    secret: str,
    body: str,
    webhook_id: str | None = None,
    sent_body: str | None = None,
    timestamp: datetime | None = None,
) -> tuple[str, requests.Response]:
    """Signs ``body`` like Breakeven does (Standard Webhooks) and POSTs ``sent_body`` (default: the same)."""
    webhook_id = webhook_id or f"msg_{secrets.token_hex(12)}"
    timestamp = timestamp or datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
    }
    payload = (sent_body if sent_body is not None else body).encode()
    return webhook_id, requests.post(n8n.webhook_url(ALERT_PATH), data=payload, headers=headers, timeout=60)


def forwarded(sink: RecordingSink, webhook_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = [item for item in list(sink.received) if item.get("webhook_id") == webhook_id]
        if matches:
            assert len(matches) == 1, f"{webhook_id} was forwarded {len(matches)} times"
            return matches[0]
        time.sleep(0.1)
    raise AssertionError(f"{webhook_id} was not forwarded within {timeout}s; sink got {sink.received}")


@pytest.mark.e2e
def test_alert_receiver_accepts_signed_alerts_and_routes_by_type(
    n8n: N8n, alert_receiver: str, alert_sink: RecordingSink
) -> None:
    reached_id, reached = deliver(n8n, alert_receiver, alert_body("breakeven.reached", "Break-even reached."))
    test_id, test = deliver(n8n, alert_receiver, alert_body("test", "Test alert from Breakeven."))
    # A key order and spacing no JSON serializer would reproduce: only a raw-body check accepts it.
    odd_body = '{ "data" : {"message":"Free tier at 85%."},\n  "type":"freetier.approaching", "timestamp":"x" }'
    odd_id, odd = deliver(n8n, alert_receiver, odd_body)

    for webhook_id, response in ((reached_id, reached), (test_id, test), (odd_id, odd)):
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "accepted", "webhook_id": webhook_id}
    assert forwarded(alert_sink, reached_id) == {
        "type": "breakeven.reached",
        "severity": "critical",
        "text": "🚨 Break-even reached.",
        "webhook_id": reached_id,
        "data": json.loads(alert_body("breakeven.reached", "Break-even reached."))["data"],
    }
    assert forwarded(alert_sink, test_id)["severity"] == "info"
    assert forwarded(alert_sink, odd_id)["severity"] == "warning"


@pytest.mark.e2e
def test_alert_receiver_rejects_tampered_or_unsigned_alerts(
    n8n: N8n, alert_receiver: str, alert_sink: RecordingSink
) -> None:
    body = alert_body("breakeven.reached", "Break-even reached.")
    tampered_body = body.replace("3210.5", "9999.5")
    assert tampered_body != body
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    rejected = [
        deliver(n8n, alert_receiver, body, sent_body=tampered_body),
        deliver(n8n, other_secret, body),
        deliver(n8n, alert_receiver, body, timestamp=datetime.now(UTC) - timedelta(minutes=6)),
    ]
    unsigned = requests.post(
        n8n.webhook_url(ALERT_PATH), data=body, headers={"content-type": "application/json"}, timeout=60
    )

    for _, response in rejected:
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "invalid_signature"
    assert unsigned.status_code == 401
    # A valid alert sent afterwards is forwarded; none of the rejected ones ever is.
    valid_id, valid = deliver(n8n, alert_receiver, body)
    assert valid.status_code == 200
    forwarded(alert_sink, valid_id)
    rejected_ids = {webhook_id for webhook_id, _ in rejected}
    assert not [item for item in alert_sink.received if item.get("webhook_id") in rejected_ids]


@pytest.mark.e2e
def test_alert_receiver_drops_a_replayed_webhook_id(n8n: N8n, alert_receiver: str, alert_sink: RecordingSink) -> None:
    body = alert_body("breakeven.approaching", "Approaching break-even.")
    webhook_id, first = deliver(n8n, alert_receiver, body)
    assert first.status_code == 200
    forwarded(alert_sink, webhook_id)
    # Seen ids live in the workflow's static data, which n8n saves when the execution ends.
    wait_until_idle(n8n, "e2eAlerts")

    _, replay = deliver(n8n, alert_receiver, body, webhook_id=webhook_id)

    assert replay.status_code == 200, "a duplicate is acknowledged so the sender stops retrying"
    assert replay.json() == {"status": "duplicate", "webhook_id": webhook_id}
    wait_until_idle(n8n, "e2eAlerts")
    assert len([item for item in alert_sink.received if item.get("webhook_id") == webhook_id]) == 1


def wait_until_idle(n8n: N8n, workflow_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executions = n8n.executions(workflow_id)
        if executions and all(execution.get("stoppedAt") for execution in executions):
            return
        time.sleep(0.2)
    raise AssertionError(f"executions of {workflow_id} still running after {timeout}s")


# --- with the real Breakeven service -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_chat_runs_land_in_the_ledger_once_with_exact_tokens(
    n8n: N8n, fake_groq: FakeGroq, breakeven_service: BreakevenService, published: list[str]
) -> None:
    workflow = configured(
        CHAT,
        "e2eChatLedger",
        {"base_url": fake_groq.openai_base_url, "ledger_url": breakeven_service.url},
        "e2e/chat-ledger",
    )
    publish(n8n, published, workflow, "e2e/chat-ledger")

    cli_run = n8n.execute("e2eChatLedger")
    assert cli_run.status == "success", cli_run.error
    assert cli_run.node_items("Answer")[0]["logged"] is True
    record = cli_run.node_items("Build Usage Record")[0]["run"]
    response = requests.post(n8n.webhook_url("e2e/chat-ledger"), json={"prompt": "Count me once."}, timeout=60)
    assert response.status_code == 200 and response.json()["logged"] is True
    via_cli = completion_for(fake_groq, record["id"])
    via_webhook = fake_groq.completions[-1]
    assert via_webhook.request_id != via_cli.request_id

    def ledger_totals() -> dict[str, Any]:
        usage = breakeven_service.get("/v1/usage", params={"workflow_id": "e2eChatLedger", "group_by": "workflow"})
        assert usage.status_code == 200, usage.text
        return dict(usage.json()["totals"])

    expected = {
        "prompts": 2,
        "prompt_tokens": via_cli.prompt_tokens + via_webhook.prompt_tokens,
        "completion_tokens": via_cli.completion_tokens + via_webhook.completion_tokens,
        "cached_tokens": 0,
    }
    totals = ledger_totals()
    assert {key: totals[key] for key in expected} == expected

    # The same run posted again (what n8n's retry does after a lost response) is a duplicate, not a new run.
    again = breakeven_service.ingest(record)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert {key: ledger_totals()[key] for key in expected} == expected

    # With the ledger stopped, the caller still gets the answer.
    breakeven_service.stop()
    response = requests.post(n8n.webhook_url("e2e/chat-ledger"), json={"prompt": "Still there?"}, timeout=60)
    assert response.status_code == 200
    assert response.json()["answer"] == fake_groq.completions[-1].content
    assert response.json()["logged"] is False


def backfill_past_breakeven(service: BreakevenService, model: str) -> dict[str, Any]:
    """Logs yesterday's runs until the ledger's own break-even for ``model`` is passed; returns the status.

    Every run has the plan's stated workload (5,000 prompt and 500 completion tokens), so the measured workload,
    and with it the break-even, stays where the first run put it.
    """
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)

    def run(index: int) -> dict[str, Any]:
        return {
            "id": f"backfill-{index}",
            "model": model,
            "prompt_tokens": 5000,
            "completion_tokens": 500,
            "occurred_at": yesterday.isoformat(),
            "workflow_id": "e2eBackfill",
        }

    assert service.ingest(run(0)).status_code == 201
    status = service.get("/v1/breakeven", params={"model": model}).json()
    assert status["calculation"]["verdict"] == "breaks_even", status
    needed = int(status["breakeven_prompts_per_day"]) + 5
    for start in range(1, needed, 1000):
        batch = {"runs": [run(index) for index in range(start, min(start + 1000, needed))]}
        response = service.ingest(batch)
        assert response.status_code == 200 and response.json()["created"] == len(batch["runs"]), response.text
    status = service.get("/v1/breakeven", params={"model": model}).json()
    assert status["level"] == "reached", status
    return dict(status)


@pytest.mark.e2e
def test_breakeven_check_alert_reaches_the_receiver_signed_and_an_impostor_is_rejected(
    n8n: N8n, breakeven_service: BreakevenService, sink: RecordingSink, published: list[str]
) -> None:
    path = "e2e/alerts-live"
    url = n8n.webhook_url(path)
    subscribed = breakeven_service.post("/v1/webhooks", json={"url": url, "description": "n8n receiver"})
    assert subscribed.status_code == 201, subscribed.text
    # A second subscription to the same receiver signs with its own secret, which the receiver does not know.
    impostor = breakeven_service.post("/v1/webhooks", json={"url": url + "?via=impostor"})
    assert impostor.status_code == 201, impostor.text
    workflow = configured(
        ALERTS, "e2eAlertsLive", {"webhook_secret": subscribed.json()["secret"], "forward_url": sink.url}, path
    )
    publish(n8n, published, workflow, path)

    tested = breakeven_service.post(f"/v1/webhooks/{subscribed.json()['id']}/test").json()["delivery"]
    assert (tested["status"], tested["last_status_code"]) == ("delivered", 200), tested
    assert sink.wait_for(1)[0]["severity"] == "info"
    rejected = breakeven_service.post(f"/v1/webhooks/{impostor.json()['id']}/test").json()["delivery"]
    assert rejected["last_status_code"] == 401, rejected

    status = backfill_past_breakeven(breakeven_service, "llama-3.3-70b-versatile")
    checked = breakeven_service.cli("check", "--json")
    assert checked.returncode == 0, checked.stderr

    reached = [item for item in sink.wait_for(2) if item["type"] == "breakeven.reached"]
    assert len(reached) == 1, sink.received
    assert reached[0]["severity"] == "critical"
    assert reached[0]["data"]["model"] == "llama-3.3-70b-versatile"
    assert reached[0]["data"]["breakeven_prompts_per_day"] == status["breakeven_prompts_per_day"]
    history = breakeven_service.get("/v1/alerts").json()["alerts"]
    codes = sorted(
        delivery["last_status_code"]
        for alert in history
        if alert["type"] == "breakeven.reached"
        for delivery in alert["deliveries"]
    )
    assert codes == [200, 401]
    assert len(sink.received) == 2, "only the two alerts signed with the receiver's secret got through"


@pytest.mark.e2e
def test_daily_report_formats_the_ledgers_verdict(n8n: N8n, breakeven_service: BreakevenService) -> None:
    now = datetime.now(UTC).isoformat()
    for model, tokens in (("llama-3.3-70b-versatile", 4000), ("llama-3.1-8b-instant", 900)):
        logged = breakeven_service.ingest(
            {
                "id": f"report-{model}",
                "model": model,
                "prompt_tokens": tokens,
                "completion_tokens": 100,
                "occurred_at": now,
            }
        )
        assert logged.status_code == 201, logged.text
    statuses = breakeven_service.get("/v1/breakeven").json()["models"]
    workflow = configured(REPORT, "e2eReport", {"ledger_url": breakeven_service.url})
    n8n.import_workflow_data(workflow)

    result = n8n.execute("e2eReport")

    assert result.status == "success", result.error
    text = result.node_items("Format Report")[0]["text"]
    lines = text.splitlines()
    assert lines[0].startswith("*Break-even report, ")
    assert sorted(lines[1:]) == sorted(f"• {s['provider']}/{s['model']}: {s['verdict']}" for s in statuses)
    assert len(lines) == 3
