"""The objects one process shares between requests: settings, database, catalogue, ledger, keys."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from service.auth import Keyring
from service.config import Settings
from service.db import Database
from service.ledger import Ledger
from service.pricing import Catalogue

EXTENSION = "breakeven"


@dataclass
class AppContext:
    settings: Settings
    db: Database
    catalogue: Catalogue
    ledger: Ledger
    keyring: Keyring


def current() -> AppContext:
    return current_app.extensions[EXTENSION]
