"""Shared fixtures: settings on a fresh SQLite file or a fresh PostgreSQL schema, the app, a live server."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from service import create_app
from service.config import Settings

FULL_KEY = "test-full-key"
INGEST_KEY = "test-ingest-key"
POSTGRES_URL = os.environ.get("BREAKEVEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent
BREAKEVEN = str(Path(sys.executable).with_name("breakeven"))


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose search_path is a schema of its own, dropped after the test."""
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(postgres_server)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'breakeven.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'breakeven.sqlite'}"


def make_settings(database_url: str, tmp_path: Path, **overrides) -> Settings:
    values = {
        "database_url": database_url,
        "api_keys": FULL_KEY,
        "ingest_keys": INGEST_KEY,
        "api_key_file": tmp_path / "api-key",
        "pricing_file": tmp_path / "pricing.toml",
        "webhook_allowed_hosts": "127.0.0.1,localhost",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings):
    app = create_app(settings)
    yield app
    app.extensions["breakeven"].db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


FULL = {"Authorization": f"Bearer {FULL_KEY}"}
INGEST = {"Authorization": f"Bearer {INGEST_KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREAKEVEN_")}
    env.update(settings_env)
    return env


class LiveServer:
    """A real `breakeven web|serve` process on a free loopback port."""

    def __init__(self, env: dict[str, str], workdir: Path, command: str = "web", workers: int = 2, threads: int = 4):
        self.env = env
        self.workdir = workdir
        self.command = command
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    def start(self, timeout: float = 30) -> LiveServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    BREAKEVEN,
                    self.command,
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--threads",
                    str(self.threads),
                ],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass  # the listening socket accepts before a worker has booted
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def settings_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "BREAKEVEN_DATABASE_URL": database_url,
        "BREAKEVEN_API_KEYS": FULL_KEY,
        "BREAKEVEN_INGEST_KEYS": INGEST_KEY,
        "BREAKEVEN_PRICING_FILE": str(tmp_path / "pricing.toml"),
        "BREAKEVEN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    env.update(extra)
    return service_env(env)


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(settings_env(database_url, tmp_path), tmp_path).start()
    yield server
    server.stop()
