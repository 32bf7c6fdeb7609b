"""Settings, read from ``ATEXPERT_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET_KEY = "change-me"
#: Hosts of X's own API: its posts are seen on x.com. Any other X API is the emulator.
X_API_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
#: The emulator's page of an account's posts; each post is anchored ``#p<id>``.
EMULATOR_POST_LINK = "/_emulator/timeline/{handle}#p{id}"
MIN_SECRET_KEY_CHARS = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ATEXPERT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://, rediss://, unix://). Empty: start an embedded Redis.",
    )
    redis_cluster: bool = Field(
        default=False, description="Treat redis_url as a seed node of a Redis Cluster."
    )
    data_dir: Path = Field(
        default=Path("data"), description="Where the embedded Redis keeps its socket and AOF."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET_KEY),
        description="Signs the login cookies (itsdangerous) and derives the key of the X tokens "
        "at rest. `atexpert serve` needs 32+ random "
        "characters.",
    )
    secret_key_previous: SecretStr | None = Field(
        default=None,
        description="Former secret keys, comma-separated: the X tokens encrypted with them "
        "are still read, and written again under the current key (key rotation).",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Public URL of the web app (links, OAuth)."
    )
    x_api_base_url: str = Field(
        default="https://api.twitter.com",
        description="Base URL of the X API: X itself, or the bundled emulator.",
    )
    x_consumer_key: SecretStr | None = Field(default=None, description="X app consumer key.")
    x_consumer_secret: SecretStr | None = Field(default=None, description="X app consumer secret.")
    x_bearer_token: SecretStr | None = Field(default=None, description="X app bearer token.")
    x_client_id: str | None = Field(default=None, description="X OAuth 2.0 client id.")
    x_client_secret: SecretStr | None = Field(default=None, description="X OAuth 2.0 secret.")
    host: str = Field(default="127.0.0.1", description="Address `atexpert serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `atexpert serve` binds.")
    scheduler_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the scheduler checks for due sessions."
    )
    checkpoint_every_events: int = Field(
        default=1_000,
        ge=1,
        le=1_000_000,
        description="A session's event log gets a new checkpoint (its state folded) once this "
        "many events stand beyond the kept tail; those events are trimmed from the stream.",
    )
    checkpoint_keep_events: int = Field(
        default=1_000,
        ge=1,
        le=1_000_000,
        description="Newest events every session's stream keeps after its checkpoint.",
    )
    checkpoint_interval_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often the event logs are checked."
    )
    likes_refresh_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="How often intake re-reads the like counts of a session's recent open "
        "questions (billed as post reads). 0: never.",
    )
    scheduler_lease_seconds: float = Field(
        default=10.0, gt=0, le=600, description="Scheduler lease time-to-live (one leader at once)."
    )
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For "
        "header tells the client's address. Empty: the socket peer is the client.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of `atexpert serve`: `text` (human-readable) or `json` (one "
        "object per line with time, level, logger, message, request_id, session_id, actor).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token `GET /metrics` asks for. Unset: only clients on this host "
        "that came through no proxy (no X-Forwarded-For) may read it.",
    )
    redis_ping_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="How often each process times a Redis PING."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        """``ATEXPERT_TRUSTED_PROXIES=10.0.0.1, 10.1.0.0/16`` (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def x_post_link(self) -> str:
        """Where the configured X shows a post, with ``{handle}`` and ``{id}`` to fill in:
        x.com for X itself, the emulator's timeline page for the emulator."""
        if urlsplit(self.x_api_base_url).hostname in X_API_HOSTS:
            return "https://x.com/{handle}/status/{id}"
        return self.x_api_base_url.rstrip("/") + EMULATOR_POST_LINK

    def secret_key_problem(self) -> str | None:
        """Why :attr:`secret_key` is unfit to serve with (default, too short); None if fit."""
        key = self.secret_key.get_secret_value()
        if key == DEFAULT_SECRET_KEY:
            what = f"is the default {DEFAULT_SECRET_KEY!r}"
        elif len(key) < MIN_SECRET_KEY_CHARS:
            what = f"is too short ({len(key)} characters)"
        else:
            return None
        return (
            f"ATEXPERT_SECRET_KEY {what}: set {MIN_SECRET_KEY_CHARS} or more random characters, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
