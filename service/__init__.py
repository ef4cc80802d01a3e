"""Breakeven: meter LLM runs and tell when self-hosting the same model pays off."""

from __future__ import annotations

import logging

from flask import Flask

from service.app_context import EXTENSION, AppContext
from service.auth import Keyring
from service.config import Settings
from service.db import Database
from service.ledger import Ledger
from service.pricing import load_catalogue

MAX_BODY_BYTES = 1024 * 1024

log = logging.getLogger(__name__)


def configured_keys(settings: Settings) -> tuple[list[str], list[str]]:
    """Full and ingest keys: from the environment, else the generated key file (see `breakeven serve`)."""
    full = [k.get_secret_value() for k in settings.api_keys]
    ingest = [k.get_secret_value() for k in settings.ingest_keys]
    if not full and settings.api_key_file.exists():
        full = [settings.api_key_file.read_text().strip()]
    return full, ingest


def create_app(settings: Settings | None = None) -> Flask:
    """Application factory: settings, then storage (upgraded on start), then the API blueprints."""
    from service import errors
    from service.api import register_blueprints
    from service.migrate import upgrade

    settings = settings or Settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False

    db = Database(settings.database_url)
    upgrade(db, settings.tz)
    catalogue = load_catalogue(settings.pricing_file)
    full, ingest = configured_keys(settings)
    if not full and not ingest:
        log.warning("no API keys configured: every /v1 request will be refused (set BREAKEVEN_API_KEYS)")
    app.extensions[EXTENSION] = AppContext(
        settings=settings,
        db=db,
        catalogue=catalogue,
        ledger=Ledger(db, catalogue, settings.tz),
        keyring=Keyring(full, ingest),
    )
    errors.register(app)
    register_blueprints(app)
    _register_operations(app, settings)
    return app


def _register_operations(app: Flask, settings: Settings) -> None:
    """What people and operators see: request log, /metrics, /openapi.json and /docs, the dashboard at /."""
    from service import dashboard, metrics, openapi, request_log

    request_log.init_app(app, settings.log_format)
    metrics.init_app(app)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(dashboard.bp)
