"""Turning n8n execution data into ledger runs (the real-n8n round trip is in tests/e2e)."""

from __future__ import annotations

from service.collector import runs_from_execution


def execution(run_data: dict, nodes: list[dict]) -> dict:
    return {"id": "42", "workflowId": "wf1", "status": "success",
            "workflowData": {"id": "wf1", "name": "Agent", "nodes": nodes},
            "data": {"resultData": {"runData": run_data}}}


def model_run(prompt: int, completion: int, start: int = 1_764_000_000_000) -> dict:
    usage = {"promptTokens": prompt, "completionTokens": completion, "totalTokens": prompt + completion}
    return {"startTime": start, "executionTime": 321,
            "data": {"ai_languageModel": [[{"json": {"response": {}, "tokenUsage": usage}}]]}}


GROQ_NODE = {"name": "Groq Chat Model", "type": "@n8n/n8n-nodes-langchain.lmChatGroq",
             "parameters": {"model": "llama-3.3-70b-versatile"}}


def test_each_chat_model_call_becomes_one_run_with_a_stable_id():
    data = execution({"Groq Chat Model": [model_run(100, 20), model_run(150, 30)],
                      "AI Agent": [{"data": {"main": [[{"json": {"output": "hi"}}]]}}]},
                     [GROQ_NODE, {"name": "AI Agent", "type": "@n8n/n8n-nodes-langchain.agent"}])
    runs = list(runs_from_execution(data))
    assert [(r["id"], r["prompt_tokens"], r["completion_tokens"]) for r in runs] == [
        ("n8n:42:Groq Chat Model:0", 100, 20), ("n8n:42:Groq Chat Model:1", 150, 30)]
    assert runs[0]["provider"] == "groq" and runs[0]["model"] == "llama-3.3-70b-versatile"
    assert runs[0]["workflow_id"] == "wf1" and runs[0]["execution_id"] == "42" and runs[0]["latency_ms"] == 321
    assert runs == list(runs_from_execution(data))


def test_resource_locator_model_and_runs_without_usage():
    node = {**GROQ_NODE, "parameters": {"model": {"__rl": True, "value": "openai/gpt-oss-20b", "mode": "list"}}}
    without_usage = {"startTime": 1, "data": {"ai_languageModel": [[{"json": {"response": {}}}]]}}
    runs = list(runs_from_execution(execution({"Groq Chat Model": [without_usage, model_run(5, 1)]}, [node])))
    assert [(r["id"], r["model"]) for r in runs] == [("n8n:42:Groq Chat Model:1", "openai/gpt-oss-20b")]


def test_nodes_can_come_from_the_workflow_when_the_execution_lacks_them():
    data = execution({"Groq Chat Model": [model_run(7, 3)]}, [])
    assert list(runs_from_execution(data)) == []
    assert len(list(runs_from_execution(data, [GROQ_NODE]))) == 1
