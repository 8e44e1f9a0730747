"""One typed `Settings` for the API and the worker, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ADMIN_TOKEN = "change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    redis_url: str = Field("redis://127.0.0.1:6379/0", pattern=r"^(redis|rediss|unix)://")
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)

    email_api_url: str = "http://127.0.0.1:8025/send"
    email_api_timeout_seconds: float = Field(5.0, gt=0)

    log_format: Literal["json", "console"] | None = None  # None: json in production, console otherwise
    log_level: str = "INFO"

    max_body_bytes: int = Field(64 * 1024, gt=0)
    trusted_proxies: list[str] = []

    # Redis client: short timeouts so a dead Redis is a fast 503, never a hang.
    redis_socket_timeout_seconds: float = Field(1.0, gt=0)
    redis_connect_timeout_seconds: float = Field(0.5, gt=0)
    redis_retry_attempts: int = Field(2, ge=0)

    # Job defaults (a job may override them next to its definition).
    queue_name: str = "arq:queue"
    job_timeout: int = Field(300, gt=0)
    max_tries: int = Field(5, ge=1)
    keep_result_seconds: int = Field(86_400, gt=0)
    retry_base_delay_seconds: float = Field(1.0, gt=0)
    retry_max_delay_seconds: float = Field(300.0, gt=0)
    worker_max_jobs: int = Field(50, gt=0)
    worker_poll_delay_seconds: float = Field(0.05, gt=0)
    job_completion_wait_seconds: int = Field(30, ge=0)
    # A running job's claim expires this long after its worker stops heartbeating (crash recovery).
    crash_recovery_seconds: float = Field(15.0, gt=1)
    worker_heartbeat_seconds: float = Field(5.0, gt=0)
    idempotency_ttl_seconds: int = Field(86_400, gt=0)
    dead_letter_max: int = Field(100_000, gt=0)

    # The example report job: how many steps, and how long each takes (tests make it short).
    report_steps: int = Field(10, gt=0)
    report_step_seconds: float = Field(0.5, ge=0)

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        token = self.admin_token.get_secret_value()
        if self.environment == "production" and (not token or token == DEFAULT_ADMIN_TOKEN):
            raise ValueError("ADMIN_TOKEN must be set to a non-default value when ENVIRONMENT=production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
