"""Configuration, read once from `BREAKEVEN_*` environment variables (and a `.env` file if present)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BREAKEVEN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///breakeven.sqlite"
    # NoDecode keeps pydantic-settings from expecting JSON: operators write comma-separated keys.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    ingest_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_key_file: Path = Path("breakeven-api-key")
    timezone: str = "UTC"
    plan: str | None = None
    warn_ratio: float = Field(default=0.8, gt=0, le=1)
    forecast_horizon_days: int = Field(default=14, ge=0)
    window_days: int = Field(default=7, ge=1, le=365)
    check_interval: int = Field(default=900, ge=1)
    pricing_file: Path = Path("breakeven-pricing.toml")
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None
    webhook_timeout: float = Field(default=15.0, gt=0)
    log_format: str = "text"
    n8n_url: str | None = None
    n8n_api_key: SecretStr | None = None

    @field_validator("api_keys", "ingest_keys", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value

    @field_validator("alert_webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        raw = value.get_secret_value()
        try:
            decoded = base64.b64decode(raw.removeprefix("whsec_") + "==", validate=False)
        except ValueError:
            decoded = b""
        if not raw.startswith("whsec_") or len(decoded) < 16:
            raise ValueError("must be a Standard Webhooks secret: 'whsec_' followed by base64 of at least 16 bytes")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
