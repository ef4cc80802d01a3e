"""Fixtures for the end-to-end tests: one real n8n per session, the fake Groq, local sinks, the real service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.n8n_harness import NODE_PACKAGE, N8n, free_port, n8n_home
from tests.fakes.groq import FakeGroq

# Credentials the exported workflows reference by name. The secrets are test values: Groq's is the fake's key,
# the Breakeven ones match the `breakeven_service` fixture, and Slack's is never used (its nodes are disabled).
GROQ_CREDENTIAL = "Groq account"
INGEST_CREDENTIAL = "Breakeven ingest key"
API_CREDENTIAL = "Breakeven API key"
SLACK_CREDENTIAL = "Slack account"
# The community package's own credential (type breakevenApi), used by workflows built on its nodes. The session
# instance points at a port where nothing listens: tests that reach the service make a credential of their own.
NODE_CREDENTIAL = "Breakeven API"
NODE_CREDENTIAL_ID = "e2eBreakevenNode"
NODE_PACKAGE_NAME = "n8n-nodes-breakeven"
FULL_KEY = "e2e-full-key"
INGEST_KEY = "e2e-ingest-key"
BREAKEVEN = Path(sys.executable).with_name("breakeven")


@pytest.fixture(scope="session")
def fake_groq() -> Iterator[FakeGroq]:
    with FakeGroq() as fake:
        yield fake


@pytest.fixture(scope="session")
def n8n(fake_groq: FakeGroq, tmp_path_factory: pytest.TempPathFactory) -> Iterator[N8n]:
    """A real n8n (``n8n start``) shared by the session, with an owner, an API key and the test credentials.

    The built community package ``n8n-nodes/`` is installed into its user folder before it starts (``make nodes``
    builds it; without ``dist/`` every test using this fixture fails saying so).
    """
    instance = N8n(
        home=n8n_home(),
        groq_base_url=fake_groq.base_url,
        workdir=tmp_path_factory.mktemp("n8n"),
        community_packages=(NODE_PACKAGE,),
    )
    try:
        instance.start()
        instance.setup_owner()
        instance.import_credentials(
            [
                {"id": "e2eGroq", "name": GROQ_CREDENTIAL, "type": "groqApi", "data": {"apiKey": fake_groq.api_key}},
                {
                    "id": "e2eIngest",
                    "name": INGEST_CREDENTIAL,
                    "type": "httpHeaderAuth",
                    "data": {"name": "Authorization", "value": f"Bearer {INGEST_KEY}"},
                },
                {
                    "id": "e2eApi",
                    "name": API_CREDENTIAL,
                    "type": "httpHeaderAuth",
                    "data": {"name": "Authorization", "value": f"Bearer {FULL_KEY}"},
                },
                {"id": "e2eSlack", "name": SLACK_CREDENTIAL, "type": "slackApi", "data": {"accessToken": "xoxb-e2e"}},
                {
                    "id": NODE_CREDENTIAL_ID,
                    "name": NODE_CREDENTIAL,
                    "type": "breakevenApi",
                    "data": {"baseUrl": "http://127.0.0.1:9", "apiKey": FULL_KEY},
                },
            ]
        )
        yield instance
    finally:
        instance.stop()


@dataclass
class RecordingSink:
    """An HTTP endpoint on 127.0.0.1 that records every POSTed JSON body (where workflows forward things)."""

    status: int = 204
    received: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "sink not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/sink"

    def start(self) -> RecordingSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    sink.received.append(json.loads(body or b"null"))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.1)
        raise AssertionError(f"expected {count} deliveries within {timeout}s, got {self.received}")


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink().start()
    yield recording
    recording.stop()


class DeadEndpoint:
    """A port that accepts TCP connections and closes them at once: a ledger that is down mid-request.

    Counting connections shows how many times a client tried, which a closed port cannot.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self.connections = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def dead_endpoint() -> Iterator[DeadEndpoint]:
    endpoint = DeadEndpoint()
    yield endpoint
    endpoint.stop()


@dataclass
class BreakevenService:
    """A real ``breakeven serve`` process on a free port."""

    url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    env: dict[str, str] = field(repr=False)
    workdir: Path
    full_key: str = field(default=FULL_KEY, repr=False)
    ingest_key: str = field(default=INGEST_KEY, repr=False)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Runs ``breakeven <args>`` on the same database and settings as the server."""
        return subprocess.run(
            [str(BREAKEVEN), *args],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ingest(self, body: Any) -> requests.Response:
        return requests.post(
            self.url + "/v1/runs", json=body, headers={"Authorization": f"Bearer {self.ingest_key}"}, timeout=60
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.get(self.url + path, headers={"Authorization": f"Bearer {self.full_key}"}, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.post(self.url + path, headers={"Authorization": f"Bearer {self.full_key}"}, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def breakeven_available() -> bool:
    return os.access(BREAKEVEN, os.X_OK)


@pytest.fixture
def breakeven_service(tmp_path: Path) -> Iterator[BreakevenService]:
    """The real service (web API and scheduler in one process) on a fresh SQLite database."""
    if not breakeven_available():
        pytest.fail(f"the breakeven console script is missing at {BREAKEVEN}: install the package (pip install -e .)")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BREAKEVEN_")}
    env.update(
        {
            "BREAKEVEN_DATABASE_URL": f"sqlite:///{tmp_path / 'breakeven.sqlite'}",
            "BREAKEVEN_API_KEYS": FULL_KEY,
            "BREAKEVEN_INGEST_KEYS": INGEST_KEY,
            "BREAKEVEN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    log_path = tmp_path / "breakeven.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(BREAKEVEN), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = BreakevenService(
        url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, env=env, workdir=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"breakeven serve exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(service.url + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"breakeven serve did not become ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield service
    finally:
        service.stop()
