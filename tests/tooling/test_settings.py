"""Settings: safe defaults, and no production start with default secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings


def test_production_with_the_default_admin_token_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        Settings(environment="production")


def test_production_with_an_empty_admin_token_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        Settings(environment="production", admin_token="")


def test_production_with_a_real_token_starts_and_logs_json() -> None:
    settings = Settings(environment="production", admin_token="s3cret-and-long")

    assert settings.effective_log_format == "json"


def test_development_logs_to_the_console_by_default() -> None:
    assert Settings(environment="development").effective_log_format == "console"


def test_redis_url_must_be_a_redis_scheme() -> None:
    with pytest.raises(ValidationError):
        Settings(redis_url="http://localhost:6379")
