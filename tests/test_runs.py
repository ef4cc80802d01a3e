"""POST /v1/runs: idempotency, pricing at ingest, and every kind of bad input refused with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FULL, INGEST

RUN = {
    "id": "exec-1:Groq",
    "model": "llama-3.3-70b-versatile",
    "prompt_tokens": 5000,
    "completion_tokens": 500,
}


def totals(client) -> dict:
    return client.get("/v1/usage?group_by=model", headers=FULL).get_json()["totals"]


def test_single_run_is_created_and_priced_at_the_catalogue_price(client):
    response = client.post("/v1/runs", json=RUN, headers=INGEST)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "created"
    # 5,000 x $0.59/M + 500 x $0.79/M
    assert body["cost_usd"] == pytest.approx(0.003345)
    assert totals(client)["prompts"] == 1


def test_same_id_same_content_is_a_duplicate_counted_once(client):
    assert client.post("/v1/runs", json=RUN, headers=INGEST).status_code == 201
    again = client.post("/v1/runs", json={**RUN, "provider": "groq"}, headers=INGEST)
    assert again.status_code == 200
    assert again.get_json()["status"] == "duplicate"
    assert totals(client)["prompts"] == 1
    assert totals(client)["prompt_tokens"] == 5000


def test_same_id_different_content_is_a_conflict(client):
    client.post("/v1/runs", json=RUN, headers=INGEST)
    response = client.post("/v1/runs", json={**RUN, "completion_tokens": 501}, headers=INGEST)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert totals(client)["completion_tokens"] == 500


def test_occurred_at_offsets_are_equivalent_for_idempotency(client):
    first = {**RUN, "occurred_at": "2026-11-20T10:00:00Z"}
    same_instant = {**RUN, "occurred_at": "2026-11-20T11:00:00+01:00"}
    assert client.post("/v1/runs", json=first, headers=INGEST).status_code == 201
    assert client.post("/v1/runs", json=same_instant, headers=INGEST).status_code == 200


def test_cached_tokens_use_the_cached_price(client):
    run = {
        "id": "c1",
        "model": "openai/gpt-oss-120b",
        "prompt_tokens": 1000,
        "cached_tokens": 400,
        "completion_tokens": 100,
    }
    body = client.post("/v1/runs", json=run, headers=INGEST).get_json()
    assert body["cost_usd"] == pytest.approx((600 * 0.15 + 400 * 0.075 + 100 * 0.60) / 1e6)


def test_unknown_model_is_stored_unpriced_with_a_warning(client):
    response = client.post("/v1/runs", json={**RUN, "model": "my-finetune"}, headers=INGEST)
    assert response.status_code == 201
    body = response.get_json()
    assert body["cost_usd"] is None
    assert "no price for groq/my-finetune" in body["warning"]
    assert totals(client)["unpriced_runs"] == 1


def test_batch_reports_each_item_in_order(client):
    client.post("/v1/runs", json=RUN, headers=INGEST)
    batch = {
        "runs": [
            {**RUN, "id": "b1"},
            RUN,  # duplicate of an earlier single run
            {**RUN, "completion_tokens": 1},  # same id, different content
            {**RUN, "id": "b1"},  # repeated inside the batch
        ]
    }
    response = client.post("/v1/runs", json=batch, headers=INGEST)
    assert response.status_code == 200
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["created", "duplicate", "conflict", "duplicate"]
    assert (body["created"], body["duplicate"], body["conflict"]) == (1, 2, 1)
    assert totals(client)["prompts"] == 2


def test_an_invalid_item_rejects_the_whole_batch_naming_index_and_field(client):
    batch = {"runs": [{**RUN, "id": "ok"}, {**RUN, "id": "bad", "prompt_tokens": -5}]}
    response = client.post("/v1/runs", json=batch, headers=INGEST)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["details"][0]["field"] == "runs[1].prompt_tokens"
    assert "runs[1].prompt_tokens" in error["message"]
    assert totals(client)["prompts"] == 0


def future(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**RUN, "prompt_tokens": "5000"}, "prompt_tokens"),
        ({**RUN, "prompt_tokens": 5000.5}, "prompt_tokens"),
        ({**RUN, "completion_tokens": True}, "completion_tokens"),
        ({**RUN, "prompt_tokens": -1}, "prompt_tokens"),
        ({**RUN, "completion_tokens": 10**12}, "completion_tokens"),
        ({**RUN, "cached_tokens": 5001}, "cached_tokens"),
        ({k: v for k, v in RUN.items() if k != "id"}, "id"),
        ({k: v for k, v in RUN.items() if k != "model"}, "model"),
        ({k: v for k, v in RUN.items() if k != "prompt_tokens"}, "prompt_tokens"),
        ({**RUN, "id": ""}, "id"),
        ({**RUN, "id": "x" * 201}, "id"),
        ({**RUN, "occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),
        ({**RUN, "occurred_at": "yesterday"}, "occurred_at"),
        ({**RUN, "occurred_at": 1764000000}, "occurred_at"),
        ({**RUN, "occurred_at": future(48 * 60)}, "occurred_at"),  # computed at collection: far enough ahead
        ({**RUN, "metadata": {"blob": "x" * 5000}}, "metadata"),
        ({**RUN, "metadata": ["not", "an", "object"]}, "metadata"),
        ({**RUN, "status": "ok"}, "status"),
        ({**RUN, "latency_ms": -3}, "latency_ms"),
        ({**RUN, "prompt": "never store this"}, "prompt"),
        ({**RUN, "messages": [{"role": "user", "content": "secret"}]}, "messages"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(client, body, field):
    response = client.post("/v1/runs", json=body, headers=INGEST)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]
    assert totals(client)["prompts"] == 0


def test_occurred_at_slightly_ahead_is_accepted(client):
    assert client.post("/v1/runs", json={**RUN, "occurred_at": future(2)}, headers=INGEST).status_code == 201


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe"])
def test_malformed_json_is_a_400(client, raw):
    response = client.post("/v1/runs", data=raw, headers={**INGEST, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("raw", [b'[{"id": "a"}]', b'"run"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_refused(client, raw):
    response = client.post("/v1/runs", data=raw, headers={**INGEST, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "body"


def test_batch_over_1000_items_is_refused(client):
    batch = {"runs": [{**RUN, "id": f"r{i}"} for i in range(1001)]}
    response = client.post("/v1/runs", json=batch, headers=INGEST)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "runs"
    assert totals(client)["prompts"] == 0


def test_empty_batch_is_refused(client):
    response = client.post("/v1/runs", json={"runs": []}, headers=INGEST)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "runs"


def test_body_over_1_mb_is_a_413(client):
    huge = b'{"id": "x", "pad": "' + b"a" * (1024 * 1024) + b'"}'
    response = client.post("/v1/runs", data=huge, headers={**INGEST, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_key_is_a_401_without_echoing_it(client, headers):
    response = client.post("/v1/runs", json=RUN, headers=headers)
    assert response.status_code == 401
    assert "wrong" not in response.get_data(as_text=True)
    assert totals(client)["prompts"] == 0


def test_ingest_key_cannot_read(client):
    response = client.get("/v1/usage", headers=INGEST)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_full_key_can_ingest(client):
    assert client.post("/v1/runs", json=RUN, headers=FULL).status_code == 201


def test_unknown_route_and_method_answer_json(client):
    assert client.get("/v1/nope", headers=FULL).get_json()["error"]["code"] == "not_found"
    response = client.get("/v1/runs", headers=FULL)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_probes_need_no_key(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_metadata_key_order_does_not_make_a_conflict(client):
    first = {**RUN, "metadata": {"team": "ops", "ticket": 7}}
    reordered = {**RUN, "metadata": {"ticket": 7, "team": "ops"}}
    assert client.post("/v1/runs", json=first, headers=INGEST).status_code == 201
    assert client.post("/v1/runs", json=reordered, headers=INGEST).status_code == 200
    assert client.post("/v1/runs", json={**RUN, "metadata": {"team": "dev"}}, headers=INGEST).status_code == 409
