"""Settings from the environment (and a ``.env`` file): every URL, key, model name and limit.

Built once by the app factory or the CLI and passed down; never read at import time.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "admin", "xxx", "todo"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", alias="CHIPIN_ENV"
    )
    database_url: str = Field(default="sqlite:///./chipin.db", alias="DATABASE_URL")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_json: bool = Field(default=False, alias="LOG_JSON")

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org", alias="TELEGRAM_API_BASE_URL"
    )

    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_whatsapp_from: str | None = Field(default=None, alias="TWILIO_WHATSAPP_FROM")
    twilio_sms_from: str | None = Field(default=None, alias="TWILIO_SMS_FROM")
    twilio_api_base_url: str = Field(default="https://api.twilio.com", alias="TWILIO_API_BASE_URL")
    twilio_whatsapp_template_sid: str | None = Field(
        default=None, alias="TWILIO_WHATSAPP_TEMPLATE_SID"
    )
    """An approved WhatsApp template (Content SID "HX…", one variable) for messages sent more
    than 24 hours after the person's last WhatsApp message; unset: those go by SMS."""

    gemini_api_key: SecretStr | None = Field(default=None, alias="GEMINI_API_KEY")
    gemini_model: str = Field(default="gemini-2.5-flash", alias="GEMINI_MODEL")
    gemini_api_base_url: str | None = Field(default=None, alias="GEMINI_API_BASE_URL")
    gemini_timeout_seconds: float = Field(default=10.0, gt=0, alias="GEMINI_TIMEOUT_SECONDS")
    gemini_max_attempts: int = Field(default=3, ge=1, le=10, alias="GEMINI_MAX_ATTEMPTS")
    gemini_min_confidence: float = Field(default=0.8, ge=0, le=1, alias="GEMINI_MIN_CONFIDENCE")
    parser: Literal["auto", "rules", "gemini"] = Field(default="auto", alias="PARSER")

    default_currency: str = Field(default="USD", alias="DEFAULT_CURRENCY")
    default_timezone: str = Field(default="UTC", alias="DEFAULT_TIMEZONE")
    draft_ttl_minutes: int = Field(default=24 * 60, ge=1, alias="DRAFT_TTL_MINUTES")
    worker_concurrency: int = Field(default=8, ge=1, le=256, alias="WORKER_CONCURRENCY")
    worker_poll_seconds: float = Field(default=0.2, gt=0, alias="WORKER_POLL_SECONDS")
    worker_lease_seconds: float = Field(default=60.0, gt=0, alias="WORKER_LEASE_SECONDS")
    worker_max_attempts: int = Field(default=3, ge=1, alias="WORKER_MAX_ATTEMPTS")
    scheduler_enabled: bool = Field(default=True, alias="SCHEDULER_ENABLED")
    scheduler_interval_seconds: float = Field(
        default=300.0, gt=0, alias="SCHEDULER_INTERVAL_SECONDS"
    )
    outbox_max_attempts: int = Field(default=6, ge=1, alias="OUTBOX_MAX_ATTEMPTS")
    outbox_backoff_seconds: float = Field(default=2.0, gt=0, alias="OUTBOX_BACKOFF_SECONDS")
    outbox_backoff_max_seconds: float = Field(
        default=600.0, gt=0, alias="OUTBOX_BACKOFF_MAX_SECONDS"
    )

    default_phone_region: str | None = Field(default=None, alias="DEFAULT_PHONE_REGION")
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    admin_password: SecretStr | None = Field(default=None, alias="CHIPIN_ADMIN_PASSWORD")
    secret_key: SecretStr | None = Field(default=None, alias="CHIPIN_SECRET_KEY")
    admin_session_hours: float = Field(default=8, gt=0, le=24 * 7, alias="ADMIN_SESSION_HOURS")
    admin_idle_minutes: float = Field(default=30, gt=0, alias="ADMIN_IDLE_MINUTES")
    admin_login_max_failures: int = Field(default=5, ge=1, alias="ADMIN_LOGIN_MAX_FAILURES")
    admin_login_window_minutes: float = Field(default=5, gt=0, alias="ADMIN_LOGIN_WINDOW_MINUTES")

    charts_enabled: bool = Field(default=True, alias="CHARTS_ENABLED")
    """Spending reports and digests carry a chart (a photo on Telegram, media on WhatsApp)."""
    chart_link_hours: float = Field(default=7 * 24, gt=0, le=90 * 24, alias="CHART_LINK_HOURS")
    """How long a chart's signed URL (``/media/charts/…``, fetched by WhatsApp) stays valid."""

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env != "production":
            return self
        for name in (
            "telegram_webhook_secret",
            "twilio_auth_token",
            "admin_password",
            "secret_key",
        ):
            value: SecretStr | None = getattr(self, name)
            if (
                value is not None
                and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(
                    f"{name.upper()} is a placeholder; set a real secret in production"
                )
        return self

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def gemini_enabled(self) -> bool:
        return self.gemini_api_key is not None and bool(self.gemini_api_key.get_secret_value())
