"""Request bodies of the ledger API, validated with pydantic; field names are the HTTP contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

# Far above any context window in use (the largest are ~2M tokens) but low enough to catch garbage.
MAX_TOKENS_PER_RUN = 10_000_000
MAX_METADATA_BYTES = 4096
MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)

TokenCount = StrictInt


class RunIn(BaseModel):
    """One LLM call's usage. No prompt or completion text: unknown fields are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200, description="Idempotency key: n8n execution id + node, or x_groq.id")
    model: str = Field(min_length=1, max_length=200)
    provider: str = Field(default="groq", min_length=1, max_length=100)
    prompt_tokens: TokenCount = Field(ge=0, le=MAX_TOKENS_PER_RUN, description="All input tokens, cached included")
    completion_tokens: TokenCount = Field(ge=0, le=MAX_TOKENS_PER_RUN)
    cached_tokens: TokenCount = Field(default=0, ge=0, le=MAX_TOKENS_PER_RUN)
    occurred_at: AwareDatetime | None = Field(default=None, description="RFC 3339 with offset; default: now")
    workflow_id: str | None = Field(default=None, max_length=200)
    workflow_name: str | None = Field(default=None, max_length=500)
    execution_id: str | None = Field(default=None, max_length=200)
    node: str | None = Field(default=None, max_length=200)
    latency_ms: StrictInt | None = Field(default=None, ge=0, le=86_400_000)
    status: Literal["success", "error"] = "success"
    metadata: dict[str, Any] | None = Field(default=None, description="Free-form, at most 4 KB as JSON")

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_string(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an RFC 3339 string with a UTC offset, e.g. 2026-11-26T09:30:00Z")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value - datetime.now(UTC) > FUTURE_TOLERANCE:
            raise ValueError("is more than 5 minutes in the future")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"is larger than {MAX_METADATA_BYTES} bytes as JSON")
        return value

    @field_validator("cached_tokens")
    @classmethod
    def _cached_within_prompt(cls, value: int, info: ValidationInfo) -> int:
        prompt_tokens = info.data.get("prompt_tokens")
        if prompt_tokens is not None and value > prompt_tokens:
            raise ValueError(f"cannot exceed prompt_tokens ({prompt_tokens})")
        return value


class RunBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[RunIn] = Field(min_length=1, max_length=MAX_BATCH)
