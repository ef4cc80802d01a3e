"""Schema upgrades (Alembic, run in one transaction) and the rollup's timezone bookkeeping."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from service.db import Database, runs, settings_kv, usage_daily
from service.ledger import add_to_rollup

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every process that may upgrade at once.
_PG_UPGRADE_LOCK = 7_236_541_001
_REBUILD_CHUNK = 20_000


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(db: Database, tz: ZoneInfo) -> None:
    """Brings the schema to the newest revision and the rollup to the configured timezone. Safe to run from
    several processes at once: SQLite serialises on its write lock, PostgreSQL on an advisory lock."""
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_UPGRADE_LOCK})")
        command.upgrade(_alembic_config(conn), "head")
        _match_rollup_timezone(db, conn, tz)


def _match_rollup_timezone(db: Database, conn: Connection, tz: ZoneInfo) -> None:
    """Days in the rollup are local days; when the timezone setting changes, they are recounted from the runs."""
    stored = conn.scalar(select(settings_kv.c.value).where(settings_kv.c.key == "rollup_timezone"))
    if stored == tz.key:
        return
    if stored is not None:
        conn.execute(delete(usage_daily))
        columns = [
            runs.c[name]
            for name in (
                "provider",
                "model",
                "workflow_id",
                "occurred_at",
                "prompt_tokens",
                "completion_tokens",
                "cached_tokens",
                "cost_usd",
                "status",
            )
        ]
        result = conn.execute(select(*columns).execution_options(yield_per=_REBUILD_CHUNK))
        for chunk in result.mappings().partitions():
            add_to_rollup(db, conn, chunk, tz)
        conn.execute(delete(settings_kv).where(settings_kv.c.key == "rollup_timezone"))
    conn.execute(settings_kv.insert().values(key="rollup_timezone", value=tz.key))


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()
