"""This service's settings: the machinery's (`arqkit.QueueSettings`: Redis, job defaults, limits, logs)
plus its own fields below. Read once from the environment and `.env` (`.env.example` lists them all)."""

from __future__ import annotations

from functools import lru_cache

from arqkit import QueueSettings
from arqkit.settings import RATE_PATTERN, refuse_missing_urls_in_production
from pydantic import Field, model_validator


class Settings(QueueSettings):
    # The email provider's HTTP API (jobs/tasks/email.py) and its rate limit, across all workers together.
    email_api_url: str = "http://127.0.0.1:8025/send"
    email_api_timeout_seconds: float = Field(5.0, gt=0)
    email_rate_limit: str = Field("10/second", pattern=RATE_PATTERN)

    # Per-client limits of this service's routes (api/limits.py), e.g. "5/minute", "10/2s".
    rate_limit_signup: str = Field("5/minute", pattern=RATE_PATTERN)
    rate_limit_producers: str = Field("60/minute", pattern=RATE_PATTERN)

    # The report job (jobs/tasks/reports.py): at most this many at once across all workers; its steps.
    report_max_concurrency: int = Field(2, gt=0)
    report_steps: int = Field(10, gt=0)
    report_step_seconds: float = Field(0.5, ge=0)

    # The user sync job (jobs/tasks/users.py): how long a sync takes (it stands for a call to another system).
    user_sync_seconds: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _providers_are_set_in_production(self) -> Settings:
        refuse_missing_urls_in_production(self, "email_api_url")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
