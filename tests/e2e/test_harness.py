"""The test tools themselves: the fake Groq, the n8n output parser, and the harness against a real n8n."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.e2e.n8n_harness import REPO_ROOT, N8n, N8nError, parse_execute_output
from tests.fakes.groq import FakeGroq

CHAT_BODY = {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "Hello there"}]}


@pytest.fixture
def fake() -> Any:
    with FakeGroq(api_key="gsk_unit_test_key") as running:
        yield running


def post_chat(fake: FakeGroq, body: Any, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or fake.api_key}"}
    return requests.post(f"{fake.openai_base_url}/chat/completions", json=body, headers=headers, timeout=10)


def test_fake_groq_answers_like_groq_and_records_varying_usage(fake: FakeGroq) -> None:
    first = post_chat(fake, CHAT_BODY).json()
    second = post_chat(fake, CHAT_BODY).json()

    assert first["id"].startswith("chatcmpl-") and first["object"] == "chat.completion"
    assert first["x_groq"]["id"].startswith("req_") and first["system_fingerprint"]
    assert first["choices"][0]["message"]["role"] == "assistant"
    assert first["choices"][0]["finish_reason"] == "stop"
    assert set(first["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "queue_time",
        "prompt_time",
        "completion_time",
        "total_time",
    }
    assert first["usage"]["prompt_tokens"] != second["usage"]["prompt_tokens"]
    recorded = fake.completions
    assert [c.request_id for c in recorded] == [first["x_groq"]["id"], second["x_groq"]["id"]]
    for answer, completion in zip((first, second), recorded, strict=True):
        assert answer["usage"]["prompt_tokens"] == completion.prompt_tokens
        assert answer["usage"]["completion_tokens"] == completion.completion_tokens
        assert answer["usage"]["total_tokens"] == completion.total_tokens
        assert answer["choices"][0]["message"]["content"] == completion.content


def test_fake_groq_rejects_a_wrong_key_with_groqs_error_shape(fake: FakeGroq) -> None:
    response = post_chat(fake, CHAT_BODY, key="gsk_wrong")

    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    assert fake.completions == [] and fake.rejected_auth == 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"messages": CHAT_BODY["messages"]}, 400, "'model'"),
        ({"model": "llama-3.3-70b-versatile", "messages": []}, 400, "'messages'"),
        ({"model": "llama-3.3-70b-versatile", "messages": [{"role": "robot", "content": "x"}]}, 400, "messages.0.role"),
        ({**CHAT_BODY, "model": "gpt-4"}, 404, "gpt-4"),
        ({**CHAT_BODY, "stream": True}, 400, "stream"),
    ],
)
def test_fake_groq_rejects_bad_requests_naming_the_field(fake: FakeGroq, body: Any, status: int, fragment: str) -> None:
    response = post_chat(fake, body)

    assert response.status_code == status
    assert fragment in response.json()["error"]["message"]
    assert fake.completions == []


def test_fake_groq_lists_models_behind_the_key(fake: FakeGroq) -> None:
    url = f"{fake.openai_base_url}/models"
    assert requests.get(url, timeout=10).status_code == 401
    listed = requests.get(url, headers={"Authorization": f"Bearer {fake.api_key}"}, timeout=10).json()
    assert listed["object"] == "list"
    assert "llama-3.3-70b-versatile" in [model["id"] for model in listed["data"]]


def test_execute_output_parser_skips_log_lines() -> None:
    run = {"data": {"resultData": {"runData": {}}}, "status": "success"}
    output = "Loading config\n  {not json at line start}\n" + json.dumps(run, indent=2) + "\nShutting down\n"

    assert parse_execute_output(output) == run
    with pytest.raises(N8nError, match="no run JSON"):
        parse_execute_output("Execution failed\n")
    with pytest.raises(N8nError, match="malformed"):
        parse_execute_output('{"status": \n')


@pytest.mark.e2e
def test_langchain_groq_node_reaches_the_fake_through_groq_base_url(n8n: N8n, fake_groq: FakeGroq) -> None:
    """n8n's LangChain Groq Chat Model (groq-sdk inside) honours GROQ_BASE_URL and records tokenUsage."""
    workflow = {
        "id": "e2eLangchainGroq",
        "name": "LangChain Groq through the fake",
        "settings": {"executionOrder": "v1"},
        "nodes": [
            {
                "id": "t",
                "name": "Run Manually",
                "type": "n8n-nodes-base.manualTrigger",
                "typeVersion": 1,
                "position": [0, 0],
                "parameters": {},
            },
            {
                "id": "c",
                "name": "Basic LLM Chain",
                "type": "@n8n/n8n-nodes-langchain.chainLlm",
                "typeVersion": 1.9,
                "position": [220, 0],
                "parameters": {"promptType": "define", "text": "Name one open model."},
            },
            {
                "id": "m",
                "name": "Groq Chat Model",
                "type": "@n8n/n8n-nodes-langchain.lmChatGroq",
                "typeVersion": 1,
                "position": [220, 200],
                "parameters": {"model": "llama-3.3-70b-versatile", "options": {}},
                "credentials": {"groqApi": {"id": None, "name": "Groq account"}},
            },
        ],
        "connections": {
            "Run Manually": {"main": [[{"node": "Basic LLM Chain", "type": "main", "index": 0}]]},
            "Groq Chat Model": {
                "ai_languageModel": [[{"node": "Basic LLM Chain", "type": "ai_languageModel", "index": 0}]]
            },
        },
    }
    n8n.import_workflow_data(workflow)

    result = n8n.execute("e2eLangchainGroq")

    assert result.status == "success", result.error
    completion = fake_groq.completions[-1]
    assert result.node_items("Basic LLM Chain") == [{"text": completion.content}]
    model_run = result.run_data["Groq Chat Model"][0]["data"]["ai_languageModel"][0][0]["json"]
    assert model_run["tokenUsage"] == {
        "promptTokens": completion.prompt_tokens,
        "completionTokens": completion.completion_tokens,
        "totalTokens": completion.total_tokens,
    }


@pytest.mark.e2e
def test_cli_publish_takes_effect_after_a_restart(n8n: N8n, fake_groq: FakeGroq) -> None:
    """The README's CLI route: `n8n publish:workflow` writes the database only; a restart registers webhooks."""
    workflow = json.loads((REPO_ROOT / "workflows" / "groq-chat-usage-logging.json").read_text())
    workflow["id"] = "e2eCliPublish"
    for entry in workflow["nodes"]:
        if entry["name"] == "Config":
            for assignment in entry["parameters"]["assignments"]["assignments"]:
                if assignment["name"] == "base_url":
                    assignment["value"] = fake_groq.openai_base_url
        if entry["type"] == "n8n-nodes-base.webhook":
            entry["parameters"]["path"] = "e2e/cli-publish"
            entry["webhookId"] = "00000000-0000-4000-8000-0000000c11b0"
    n8n.import_workflow_data(workflow)
    n8n.publish_cli("e2eCliPublish")

    before = requests.get(n8n.webhook_url("e2e/cli-publish"), timeout=10)
    assert before.status_code == 404 and "for GET requests" not in before.text

    n8n.restart()
    try:
        n8n.wait_for_webhook("e2e/cli-publish")
        answer = requests.post(n8n.webhook_url("e2e/cli-publish"), json={"prompt": "Published by CLI?"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["answer"] == fake_groq.completions[-1].content
    finally:
        n8n.unpublish("e2eCliPublish")
