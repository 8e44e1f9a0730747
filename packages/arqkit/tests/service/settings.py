"""The fixture service's settings: the package's plus what its jobs and routes read."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from arqkit import QueueSettings
from arqkit.settings import RATE_PATTERN


class Settings(QueueSettings):
    # Where `notify` posts (the tests' HTTP sink, tests/support/sink.py), and its rate across all workers.
    sink_url: str = "http://127.0.0.1:8025/send"
    notify_rate_limit: str = Field("10/second", pattern=RATE_PATTERN)
    # Per-client limits of the routes (tests/service/app.py).
    rate_limit_notify: str = Field("5/minute", pattern=RATE_PATTERN)
    rate_limit_producers: str = Field("60/minute", pattern=RATE_PATTERN)
    # `long_task`: at most this many at once across all workers; its steps.
    long_max_concurrency: int = Field(2, gt=0)
    long_steps: int = Field(10, gt=0)
    long_step_seconds: float = Field(0.5, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
