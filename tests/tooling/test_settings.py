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


@pytest.mark.parametrize(
    "token",
    [
        "a",
        "   ",
        "CHANGE-ME",
        " change-me ",
        "s3cret-and-long",  # too short
        "abcdefghijklmnopqrstuvwxyzabcdef",  # one kind of character
        "aA1aA1aA1aA1aA1aA1aA1aA1aA1",  # few distinct characters
        "correct horse battery staple 42",  # whitespace
    ],
)
def test_production_with_a_weak_admin_token_refuses_to_start(token: str) -> None:
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        Settings(environment="production", admin_token=token)


@pytest.mark.parametrize("token", ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "Xk3-vQ9_pLm2-Rt8zWy4_Hs6nB"])
def test_production_with_a_strong_token_starts_and_logs_json(token: str) -> None:
    """`openssl rand -hex 32` (lower-case letters and digits) is strong enough."""
    settings = Settings(environment="production", admin_token=token)

    assert settings.effective_log_format == "json"


def test_development_logs_to_the_console_by_default() -> None:
    assert Settings(environment="development").effective_log_format == "console"


def test_redis_url_must_be_a_redis_scheme() -> None:
    with pytest.raises(ValidationError):
        Settings(redis_url="http://localhost:6379")
