"""Settings from the environment (prefix TURNOUT_). See README.md for the list."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PROVIDER_SECRET = "change-me-provider-webhook-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TURNOUT_", extra="ignore")

    env: Literal["development", "production"] = "development"
    # How often the evidence chains' heads are sealed into a signed checkpoint (when new
    # events arrived); exports seal on demand as well.
    evidence_seal_minutes: int = Field(default=15, ge=1, le=1440)
    # Absent: an embedded PostgreSQL (pgserver) is started in data_dir.
    database_url: str | None = None
    # Further placements a tenant can live on: {"eu2": "postgresql://..."}.
    databases: dict[str, str] = Field(default_factory=dict)
    # redis:// or amqp://; absent: the worker runs inside the server process.
    broker_url: str | None = None
    # 32 bytes, urlsafe base64. Absent in development: generated into data_dir.
    master_key: str | None = None
    # Master keys being rotated out, JSON list: their wrapped tenant keys still open and
    # `turnout keys rotate` re-wraps them under the current one.
    previous_master_keys: list[str] = Field(default_factory=list)
    data_dir: Path = Path(".turnout")
    # Where candidates' links point (the portal and tracked links).
    public_url: str = "http://127.0.0.1:8000"
    # Providers: an SMTP server for email, and one base URL for the HTTP channels (SMS,
    # voice, WeChat, push); `turnout sandbox` serves both for the demo and the tests.
    smtp_url: str | None = None
    provider_url: str | None = None
    provider_token: str = ""
    email_sender: str = "Turnout <reminders@turnout.example>"
    # Shared with the providers: their status callbacks are HMAC-signed with it.
    provider_webhook_secret: str = DEV_PROVIDER_SECRET
    # Subdomains of this host name a tenant: acme.localhost -> tenant "acme".
    base_domain: str = "localhost"
    # "all" or "authenticated": who may run introspection queries.
    introspection: Literal["all", "authenticated"] | None = None
    # `turnout serve` runs the reminder scheduler (and, without a broker, sends in-process).
    run_scheduler: bool = True
    bearer_token_minutes: int = 15
    session_hours: int = 12
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 3000
    max_query_cost: int = 20000

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def introspection_for_anonymous(self) -> bool:
        mode = self.introspection or ("all" if self.development else "authenticated")
        return mode == "all"


@lru_cache
def get_settings() -> Settings:
    return Settings()
