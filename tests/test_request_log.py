"""One log line per request, in text or JSON, that never carries a key, a secret or a query string."""

from __future__ import annotations

import json
import re

import pytest
import requests

from service import create_app
from tests.conftest import FULL, FULL_KEY, INGEST, INGEST_KEY, LiveServer, make_settings, settings_env
from tests.receiver import start_receiver

TEXT_LINE = re.compile(
    r"^\S+ request_id=(?P<request_id>[A-Za-z0-9._:-]+) method=(?P<method>\S+) path=(?P<path>\S+) "
    r"status=(?P<status>\d{3}) duration_ms=(?P<ms>[0-9.]+) pid=\d+$"
)


@pytest.fixture
def database_url(sqlite_url):
    # What is logged does not depend on the database.
    return sqlite_url


def make_client(database_url, tmp_path, log_format):
    app = create_app(make_settings(database_url, tmp_path, log_format=log_format))
    return app, app.test_client()


@pytest.fixture(params=["text", "json"])
def log_format(request):
    return request.param


@pytest.fixture
def logged(database_url, tmp_path, log_format, capsys):
    """A client, and a function returning what was written to stderr since its last call: the raw text and
    the request lines parsed (every line must be one)."""
    app, client = make_client(database_url, tmp_path, log_format)
    capsys.readouterr()

    def read() -> tuple[str, list[dict]]:
        err = capsys.readouterr().err
        parsed = []
        for line in err.splitlines():
            if log_format == "json":
                entry = json.loads(line)
                assert entry["logger"] == "breakeven.request" and entry["level"] == "info"
                parsed.append(entry)
            else:
                match = TEXT_LINE.match(line)
                assert match, f"not a request line: {line!r}"
                parsed.append({**match.groupdict(), "status": int(match["status"]), "duration_ms": float(match["ms"])})
        return err, parsed

    yield client, read
    app.extensions["breakeven"].db.dispose()


def test_one_line_per_request_with_id_method_path_status_duration(logged):
    client, read = logged
    first = client.get("/healthz")
    second = client.post("/v1/runs", json={"id": "r1"}, headers=INGEST)
    third = client.get("/v1/nowhere")
    _, entries = read()
    assert [(e["method"], e["path"], int(e["status"])) for e in entries] == [
        ("GET", "/healthz", 200),
        ("POST", "/v1/runs", 422),
        ("GET", "/v1/nowhere", 404),
    ]
    for entry, response in zip(entries, (first, second, third), strict=True):
        assert entry["request_id"] == response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])
        assert float(entry["duration_ms"]) >= 0
    assert len({e["request_id"] for e in entries}) == 3


def test_a_plain_client_request_id_is_kept_and_anything_else_replaced(logged):
    client, read = logged
    kept = client.get("/healthz", headers={"X-Request-ID": "n8n-exec-42:node.1"})
    replaced = client.get("/healthz", headers={"X-Request-ID": "evil id=1 status=200"})
    too_long = client.get("/healthz", headers={"X-Request-ID": "a" * 65})
    _, entries = read()
    assert entries[0]["request_id"] == kept.headers["X-Request-ID"] == "n8n-exec-42:node.1"
    for entry, response in zip(entries[1:], (replaced, too_long), strict=True):
        assert re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])
        assert response.headers["X-Request-ID"] == entry["request_id"]


def test_keys_secrets_and_query_strings_never_reach_the_log(logged):
    client, read = logged
    receiver = start_receiver()
    try:
        created = client.post("/v1/webhooks", json={"url": receiver.url + "?token=hook-query-secret"}, headers=FULL)
        secret = created.get_json()["secret"]
        assert secret.startswith("whsec_")
        client.get(f"/v1/usage?api_key={FULL_KEY}&token=query-token-123", headers=FULL)
        client.get("/v1/usage", headers={"Authorization": "Bearer wrong-key-that-is-secret"})
        client.post("/v1/runs", json={"id": "x"}, headers=INGEST)
        # Keys and secrets pasted into the path, the way a hurried user might.
        client.get(f"/v1/{FULL_KEY}")
        client.get(f"/{INGEST_KEY}/usage")
        client.get(f"/v1/webhooks/{secret}")
        client.get("/v1/webhooks", headers=FULL)
    finally:
        receiver.close()
    log, entries = read()
    for needle in (
        FULL_KEY,
        INGEST_KEY,
        secret,
        secret.removeprefix("whsec_"),
        "wrong-key-that-is-secret",
        "query-token-123",
        "hook-query-secret",
        "Authorization",
        "Bearer",
        "?",
    ):
        assert needle not in log, f"{needle!r} was logged"
    paths = [e["path"] for e in entries]
    assert paths[-4:] == ["/v1/[redacted]", "/[redacted]/usage", "/v1/webhooks/[redacted]", "/v1/webhooks"]
    assert "/v1/usage" in paths


def test_control_characters_in_the_path_cannot_forge_a_line(logged):
    client, read = logged
    client.get("/v1/a%0Arequest_id=forged%20method=GET%20path=/%20status=200")
    client.get("/v1/%1b[31mred")
    _, entries = read()
    assert [e["path"] for e in entries] == [
        "/v1/a%0Arequest_id=forged%20method=GET%20path=/%20status=200",
        "/v1/%1B[31mred",
    ]


def test_json_lines_from_a_real_server_with_its_scheduler(tmp_path):
    """`breakeven serve` under gunicorn: the worker's lines reach the server's output as JSON."""
    env = settings_env(f"sqlite:///{tmp_path / 'breakeven.sqlite'}", tmp_path, BREAKEVEN_LOG_FORMAT="json")
    server = LiveServer(env, tmp_path, command="serve", workers=2).start()
    try:
        session = requests.Session()
        for i in range(6):
            response = session.post(
                server.url + f"/v1/runs?secret=q{i}",
                json={
                    "id": f"live-{i}",
                    "model": "llama-3.3-70b-versatile",
                    "prompt_tokens": 10,
                    "completion_tokens": 2,
                },
                headers=INGEST,
                timeout=10,
            )
            assert response.status_code == 201
        metrics = session.get(server.url + "/metrics", headers=FULL, timeout=10)
        assert metrics.status_code == 200
    finally:
        server.stop()
    output = server.log_path.read_text()
    entries = [json.loads(line) for line in output.splitlines() if line.startswith('{"ts"')]
    runs = [e for e in entries if e["path"] == "/v1/runs"]
    assert len(runs) == 6 and all(e["method"] == "POST" and e["status"] == 201 for e in runs)
    assert len({e["request_id"] for e in runs}) == 6
    assert [e for e in entries if e["path"] == "/metrics" and e["status"] == 200]
    for needle in (FULL_KEY, INGEST_KEY, "secret=q"):
        assert needle not in output
