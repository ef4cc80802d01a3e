"""Storage: the tables, one engine (connection pool) per process, and explicit read and write transactions.

SQLite is the embedded default and PostgreSQL the engine for several replicas; every query is SQLAlchemy Core
that both accept. Timestamps are stored as naive UTC.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("provider", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("workflow_id", String(200)),
    Column("workflow_name", String(500)),
    Column("execution_id", String(200)),
    Column("node", String(200)),
    Column("latency_ms", Integer),
    Column("status", String(10), nullable=False),
    Column("metadata", Text),
    Column("cost_usd", Float),
    Column("content_hash", String(64), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("ix_runs_model_occurred", "provider", "model", "occurred_at"),
)

# One row per (day, provider, model, workflow) kept in the same transaction as each insert, so that usage and
# status queries read a few thousand rollup rows instead of scanning millions of runs.
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("provider", String(100), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("workflow_id", String(200), primary_key=True),  # '' for runs without a workflow
    Column("prompts", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("unpriced_runs", BigInteger, nullable=False),
    Column("error_runs", BigInteger, nullable=False),
    Index("ix_usage_daily_model_day", "provider", "model", "day"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list; empty = every event
    Column("format", String(20), nullable=False),
    Column("description", String(500)),
    Column("secret", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(500)),
    Column("created_at", DateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(50), nullable=False),
    Column("provider", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("plan", String(200), nullable=False),
    Column("day", Date, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    # The database, not a lock in memory, keeps several scheduler or web processes to one alert a day.
    UniqueConstraint("type", "provider", "model", "plan", "day", name="uq_alerts_once_a_day"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(40), ForeignKey("alerts.id"), nullable=False),
    Column("target", String(40), nullable=False),  # a webhook id, or "env" for the static receiver
    Column("url", Text, nullable=False),
    Column("format", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # pending | delivered | dead | cancelled
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    Column("claimed_until", DateTime),
    UniqueConstraint("alert_id", "target", name="uq_deliveries_alert_target"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

settings_kv = Table(
    "breakeven_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event own transactions instead of the sqlite3 module's implicit ones.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only an OS crash can lose the last commits).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front: a deferred one that reads first and writes later
        # can fail with SQLITE_BUSY without waiting when another writer commits in between.
        if conn.get_execution_options().get("breakeven_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def dialect_insert(dialect: str, table: Table):
    """An INSERT of the given dialect, so ON CONFLICT clauses can be added on SQLite and PostgreSQL alike."""
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)


class _SqliteWriteGate:
    """Queues SQLite writers of all processes on an flock before they ask SQLite for its write lock.

    SQLite's busy handler waits for a lock by sleeping and polling, in steps of up to 100 ms; with a few
    writers at once most of their time goes to sleeping. A blocking flock wakes the next writer as soon as the
    lock is released. SQLite's own locking still guarantees correctness; the gate only orders the queue.
    """

    def __init__(self, database_path: str | None):
        self._thread_lock = threading.Lock()
        self._fd = None
        if database_path:
            self._fd = os.open(database_path + ".write-lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    """One engine per process, with read and write transactions as context managers."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(breakeven_write=True)
        self._gate = None
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            self._gate = _SqliteWriteGate(path if path and path != ":memory:" else None)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._gate is None:
            with self._writer.begin() as conn:
                yield conn
            return
        with self._gate.held(), self._writer.begin() as conn:
            yield conn

    def insert(self, table: Table):
        """An INSERT that can take ON CONFLICT clauses on either engine."""
        return dialect_insert(self.dialect, table)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._gate is not None:
            self._gate.close()
