"""Alerts end to end: evaluation from backfilled usage, the outbox, Standard Webhooks delivery to real receivers
on loopback, retries, 410, timeouts, redirects, SSRF, and once-a-day under concurrent schedulers."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.checks import CheckRuntime, run_check
from service.db import alerts, deliveries, webhooks
from service.delivery import deliver_due
from service.schemas import RunIn
from tests.conftest import BREAKEVEN, FULL, INGEST, LiveServer, free_port, make_settings, settings_env
from tests.receiver import start_receiver

# Break-even of this plan at 5,000 prompt + 500 completion tokens: 24 x 0.0139375 / 0.003345 = 100 prompts/day.
TINY_PLAN = """
[[plans]]
name = "tiny"
replaces = "groq/llama-3.3-70b-versatile"
gpu_hourly = 0.0139375
as_of = "2026-11-01"
source = "test plan"
"""
MODEL = "llama-3.3-70b-versatile"


@pytest.fixture
def pricing(tmp_path):
    path = tmp_path / "pricing.toml"
    path.write_text(TINY_PLAN)
    return path


@pytest.fixture
def env_settings(database_url, tmp_path, pricing):
    return make_settings(database_url, tmp_path, plan="tiny", webhook_timeout=1.0)


@pytest.fixture
def app(env_settings):
    from service import create_app

    app = create_app(env_settings)
    yield app
    app.extensions["breakeven"].db.dispose()


@pytest.fixture
def runtime(app):
    ctx = app.extensions["breakeven"]
    return CheckRuntime.from_settings(ctx.settings, db=ctx.db, catalogue=ctx.catalogue)


@pytest.fixture
def receiver():
    receiver = start_receiver()
    yield receiver
    receiver.close()


def subscribe(client, url, **extra) -> dict:
    response = client.post("/v1/webhooks", json={"url": url, **extra}, headers=FULL)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def backfill(app, counts: dict[int, int], tag: str = "") -> None:
    """counts: days ago -> runs that day (noon UTC), each 5,000 prompt + 500 completion tokens."""
    ledger = app.extensions["breakeven"].ledger
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    batch = []
    for days_ago, n in counts.items():
        stamp = (today - timedelta(days=days_ago)).isoformat()
        batch += [
            RunIn.model_validate(
                {
                    "id": f"bf{tag}-{days_ago}-{i}",
                    "model": MODEL,
                    "prompt_tokens": 5000,
                    "completion_tokens": 500,
                    "occurred_at": stamp,
                }
            )
            for i in range(n)
        ]
    for start in range(0, len(batch), 1000):
        assert all(r.status == "created" for r in ledger.ingest(batch[start : start + 1000]))


def verify(received, secret: str) -> dict:
    return Webhook(secret).verify(
        received.body, {k: v for k, v in received.headers.items() if k.startswith("webhook-")}
    )


def test_growth_raises_approaching_then_reached_then_receded(app, client, runtime, receiver):
    hook = subscribe(client, receiver.url)
    backfill(app, {d: 20 for d in range(1, 15)})
    now = datetime.now(UTC)
    report = run_check(runtime, now=now)
    assert report[0]["level"] == "ok" and report[0]["forecast_date"] is None
    assert receiver.received == []

    backfill(app, {d: 70 - 5 * d for d in range(1, 8)}, tag="b")  # daily mean 20 + 50 = 70, rising steeply
    report = run_check(runtime, now=now)
    assert report[0]["level"] == "approaching"
    first_forecast = report[0]["forecast_date"]
    assert first_forecast is not None and first_forecast > now.date().isoformat()

    backfill(app, {d: 40 for d in range(1, 8)}, tag="c")  # mean 110 >= 100
    report = run_check(runtime, now=now)
    assert report[0]["level"] == "reached"
    assert report[0]["daily_prompts"] == pytest.approx(110)

    later = now + timedelta(days=10)  # ten quiet days later
    report = run_check(runtime, now=later)
    assert report[0]["level"] == "ok"

    events = [verify(r, hook["secret"]) for r in receiver.wait_for(3)]
    assert [e["type"] for e in events] == ["breakeven.approaching", "breakeven.reached", "breakeven.receded"]
    assert events[1]["data"]["model"] == MODEL and events[1]["data"]["plan"] == "tiny"
    assert "100/day break-even" in events[1]["data"]["message"]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 3


def test_forecast_moves_earlier_as_growth_steepens(app, runtime):
    from service.status import live_status

    def forecast(now):
        with runtime.db.read() as conn:
            return live_status(conn, runtime.catalogue, runtime.settings, "groq", MODEL, now=now)["forecast_date"]

    now = datetime.now(UTC)
    backfill(app, {d: 30 - d for d in range(1, 15)})  # +1 prompt/day, mean ~22
    slow = forecast(now)
    backfill(app, {d: 15 - d for d in range(1, 15)}, tag="s")  # now +2 prompts/day
    fast = forecast(now)
    assert slow is not None and fast is not None
    assert fast < slow


def test_one_alert_per_type_model_plan_and_day(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    run_check(runtime)
    with runtime.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 1
    assert len(receiver.wait_for(1)) == 1


def test_a_tampered_body_or_stale_timestamp_fails_verification(app, client, runtime, receiver):
    hook = subscribe(client, receiver.url)
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    (received,) = receiver.wait_for(1)
    assert verify(received, hook["secret"])["type"] == "breakeven.approaching"
    headers = {k: v for k, v in received.headers.items() if k.startswith("webhook-")}
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(received.body.replace(b"approaching", b"reached"), headers)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(received.body, stale)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(received.body, headers)


def test_down_then_500_then_200_delivers_with_a_stable_webhook_id(app, client, runtime):
    port = free_port()
    hook = subscribe(client, f"http://127.0.0.1:{port}/hook")
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)  # receiver down: connection refused
    with runtime.db.read() as conn:
        first = conn.execute(select(deliveries)).one()
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "connection failed")

    receiver = start_receiver(port)
    try:
        receiver.script.extend([500, 200])
        soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
        assert deliver_due(runtime, now=soon) == {"pending": 1}
        assert deliver_due(runtime, now=soon + timedelta(minutes=10)) == {"delivered": 1}
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(receiver.received) == 2 and len(ids) == 1
        assert verify(receiver.received[-1], hook["secret"])["type"] == "breakeven.approaching"
    finally:
        receiver.close()
    history = client.get("/v1/alerts", headers=FULL).get_json()["alerts"][0]["deliveries"][0]
    assert (history["status"], history["attempts"], history["last_status_code"]) == ("delivered", 3, 200)


def test_410_disables_the_subscription(app, client, runtime, receiver):
    hook = subscribe(client, receiver.url)
    receiver.default = 410
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    listed = client.get("/v1/webhooks", headers=FULL).get_json()["webhooks"]
    assert listed[0]["id"] == hook["id"] and listed[0]["enabled"] is False
    with runtime.db.read() as conn:
        assert conn.scalar(select(deliveries.c.status)) == "cancelled"


def test_non_retryable_answer_and_retry_window_end_in_dead(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    receiver.default = 503
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    assert deliver_due(runtime, now=datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=30)) == {"dead": 1}
    with runtime.db.read() as conn:
        row = conn.execute(select(deliveries)).one()
    assert row.status == "dead" and "gave up after 24 h" in row.last_error and row.last_status_code == 503


def test_slow_receiver_times_out_without_stalling_ingestion(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    receiver.script.append(("sleep", 3))
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime, deliver=False)
    outcome = {}
    sender = threading.Thread(target=lambda: outcome.update(deliver_due(runtime)))
    sender.start()
    time.sleep(0.2)
    for i in range(20):
        run = {"id": f"during-{i}", "model": MODEL, "prompt_tokens": 1, "completion_tokens": 1}
        assert client.post("/v1/runs", json=run, headers=INGEST).status_code == 201
    ingest_done_while_sending = sender.is_alive()
    sender.join(10)
    assert ingest_done_while_sending
    assert outcome == {"pending": 1}
    with runtime.db.read() as conn:
        assert conn.scalar(select(deliveries.c.last_error)) == "timed out after 1 s"


def test_redirects_are_not_followed(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    receiver.default = ("redirect", "http://169.254.169.254/latest/meta-data/")
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    with runtime.db.read() as conn:
        row = conn.execute(select(deliveries)).one()
    assert (row.status, row.last_status_code, row.attempts) == ("dead", 302, 1)
    assert "not followed" in row.last_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.1.2.3/x",
        "http://172.16.0.9/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",
        "http://[::ffff:10.0.0.1]/x",
        "ftp://example.org/x",
        "http://user:pw@8.8.8.8/x",
    ],
)
def test_internal_addresses_are_refused_at_save(database_url, tmp_path, url):
    from service import create_app

    strict = create_app(make_settings(database_url, tmp_path, webhook_allowed_hosts=""))
    response = strict.test_client().post("/v1/webhooks", json={"url": url}, headers=FULL)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "url"
    strict.extensions["breakeven"].db.dispose()


def test_internal_addresses_are_refused_at_connect_time(app, runtime, receiver):
    strict = CheckRuntime.from_settings(
        runtime.settings.model_copy(update={"webhook_allowed_hosts": []}),
        db=runtime.db,
        catalogue=runtime.catalogue,
    )
    client = app.test_client()
    subscribe(client, receiver.url)  # allowed when saved; the policy then tightens
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(strict)
    assert receiver.received == []
    with runtime.db.read() as conn:
        row = conn.execute(select(deliveries)).one()
    assert row.status == "dead" and row.last_error.startswith("blocked")


def test_slack_format_sends_text(app, client, runtime, receiver):
    subscribe(client, receiver.url, format="slack")
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    (received,) = receiver.wait_for(1)
    body = json.loads(received.body)
    assert list(body) == ["text"] and "break-even" in body["text"]


def test_event_filter_and_static_env_receiver(database_url, tmp_path, pricing, receiver):
    from service import create_app

    other = start_receiver()
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    app = create_app(
        make_settings(database_url, tmp_path, plan="tiny", alert_webhook_url=other.url, alert_webhook_secret=secret)
    )
    try:
        client = app.test_client()
        subscribe(client, receiver.url, events=["breakeven.reached"])
        backfill(app, {d: 90 for d in range(1, 8)})
        ctx = app.extensions["breakeven"]
        run_check(CheckRuntime.from_settings(ctx.settings, db=ctx.db, catalogue=ctx.catalogue))
        assert receiver.received == []  # approaching is not among its events
        (received,) = other.wait_for(1)
        assert verify(received, secret)["type"] == "breakeven.approaching"
    finally:
        other.close()
        app.extensions["breakeven"].db.dispose()


def test_free_tier_alert(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    # llama-3.3-70b-versatile's free tier allows 100,000 tokens a day: 16 runs x 5,500 tokens = 88%.
    for i in range(16):
        run = {"id": f"ft-{i}", "model": MODEL, "prompt_tokens": 5000, "completion_tokens": 500}
        client.post("/v1/runs", json=run, headers=INGEST)
    run_check(runtime)
    types = [json.loads(r.body)["type"] for r in receiver.wait_for(1)]
    assert "freetier.approaching" in types


def test_secrets_stay_out_of_listings_and_logs(app, client, runtime, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    hook = subscribe(client, receiver.url)
    listing = client.get("/v1/webhooks", headers=FULL).get_data(as_text=True)
    assert hook["secret"] not in listing and "secret" not in listing
    assert client.post(f"/v1/webhooks/{hook['id']}/test", headers=FULL).get_json()["delivery"]["status"] == "delivered"
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime)
    alerts_page = client.get("/v1/alerts", headers=FULL).get_data(as_text=True)
    assert hook["secret"] not in alerts_page and hook["secret"] not in caplog.text


def test_webhook_test_endpoint_and_delete(client, receiver):
    hook = subscribe(client, receiver.url, description="ops channel")
    result = client.post(f"/v1/webhooks/{hook['id']}/test", headers=FULL).get_json()
    assert result["delivery"]["status"] == "delivered"
    assert verify(receiver.wait_for(1)[0], hook["secret"])["type"] == "test"
    assert client.post(f"/v1/webhooks/{hook['id']}/test", headers=FULL).status_code == 200  # repeatable
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=FULL).status_code == 204
    assert client.get("/v1/webhooks", headers=FULL).get_json()["webhooks"] == []
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=FULL).status_code == 404
    assert client.post("/v1/webhooks/wh_nope/test", headers=FULL).status_code == 404


def test_three_concurrent_checks_raise_each_alert_once(env_settings, app, client, database_url, tmp_path, pricing):
    backfill(app, {d: 90 for d in range(1, 8)})
    env = settings_env(database_url, tmp_path, BREAKEVEN_PLAN="tiny")
    checks = [
        subprocess.Popen(
            [BREAKEVEN, "check", "--no-deliver", "--json"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [c.communicate(timeout=60) for c in checks]
    assert [c.returncode for c in checks] == [0, 0, 0], outputs
    raised = [a for out, _ in outputs for m in json.loads(out)["models"] for a in m["alerts"]]
    assert [a["type"] for a in raised] == ["breakeven.approaching"]
    with app.extensions["breakeven"].db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 1


def test_an_alert_committed_before_a_crash_is_delivered_after_restart(
    app, client, database_url, tmp_path, pricing, receiver
):
    hook = subscribe(client, receiver.url)
    backfill(app, {d: 90 for d in range(1, 8)})
    env = settings_env(database_url, tmp_path, BREAKEVEN_PLAN="tiny", BREAKEVEN_CHECK_INTERVAL="3600")
    # A check that commits the alert and stops before sending: what a kill between commit and send leaves.
    subprocess.run([BREAKEVEN, "check", "--no-deliver"], env=env, cwd=tmp_path, check=True, capture_output=True)
    with app.extensions["breakeven"].db.read() as conn:
        assert conn.scalar(select(deliveries.c.status)) == "pending"
    server = LiveServer(env, tmp_path, command="serve", workers=1).start()
    try:
        (received,) = receiver.wait_for(1, timeout=20)
        assert verify(received, hook["secret"])["type"] == "breakeven.approaching"
    finally:
        server.stop()


def test_serve_raises_and_delivers_when_backfilled_usage_crosses(database_url, tmp_path, pricing, receiver):
    env = settings_env(database_url, tmp_path, BREAKEVEN_PLAN="tiny", BREAKEVEN_CHECK_INTERVAL="1")
    server = LiveServer(env, tmp_path, command="serve", workers=1).start()
    try:
        hook = requests.post(server.url + "/v1/webhooks", json={"url": receiver.url}, headers=FULL, timeout=10).json()
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        runs = [
            {
                "id": f"s-{d}-{i}",
                "model": MODEL,
                "prompt_tokens": 5000,
                "completion_tokens": 500,
                "occurred_at": (today - timedelta(days=d)).isoformat(),
            }
            for d in range(1, 8)
            for i in range(120)
        ]
        for start in range(0, len(runs), 1000):
            response = requests.post(
                server.url + "/v1/runs", json={"runs": runs[start : start + 1000]}, headers=INGEST, timeout=30
            )
            assert response.status_code == 200
        (received,) = receiver.wait_for(1, timeout=30)
        assert verify(received, hook["secret"])["type"] == "breakeven.reached"
    finally:
        server.stop()


def test_deliveries_claimed_by_one_sender_are_not_sent_twice(app, client, runtime, receiver):
    subscribe(client, receiver.url)
    backfill(app, {d: 90 for d in range(1, 8)})
    run_check(runtime, deliver=False)
    with runtime.db.write() as conn:
        conn.execute(
            update(deliveries).values(claimed_until=datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=30))
        )
    assert deliver_due(runtime) == {}
    assert receiver.received == []
    with runtime.db.read() as conn:
        assert conn.scalar(select(webhooks.c.enabled))
