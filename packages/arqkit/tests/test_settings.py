"""Settings: safe defaults, and no production start with default secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from arqkit.settings import SentinelURL
from tests.service.settings import Settings


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
    settings = Settings(environment="production", admin_token=token, job_id_secret=token[::-1])

    assert settings.effective_log_format == "json"


def test_development_logs_to_the_console_by_default() -> None:
    assert Settings(environment="development").effective_log_format == "console"


def test_redis_url_must_be_a_redis_scheme() -> None:
    with pytest.raises(ValidationError):
        Settings(redis_url="http://localhost:6379")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://127.0.0.1:26379/mymaster",
            SentinelURL(sentinels=(("127.0.0.1", 26379),), service_name="mymaster"),
        ),
        (
            "redis+sentinel://s1:26379,s2:26380,s3/queue/2",
            SentinelURL(sentinels=(("s1", 26379), ("s2", 26380), ("s3", 26379)), service_name="queue", db=2),
        ),
        (
            "redis+sentinel://app:p%40ss%2Fword@s1:1,[::1]:2/mymaster/0",
            SentinelURL(
                sentinels=(("s1", 1), ("::1", 2)),
                service_name="mymaster",
                username="app",
                password="p@ss/word",
            ),
        ),
        (
            "redis+sentinel://:secret@s1:26379/mymaster",
            SentinelURL(sentinels=(("s1", 26379),), service_name="mymaster", password="secret"),
        ),
        (
            "rediss+sentinel://:secret@s1:26379/mymaster?ssl_ca_certs=/etc/ca.pem",
            SentinelURL(
                sentinels=(("s1", 26379),),
                service_name="mymaster",
                password="secret",
                tls=True,
                tls_options=(("ssl_ca_certs", "/etc/ca.pem"),),
            ),
        ),
    ],
)
def test_sentinel_urls_of_every_form_are_understood(url: str, expected: SentinelURL) -> None:
    assert Settings(redis_url=url).redis_sentinel == expected


def test_a_plain_redis_url_has_no_sentinels() -> None:
    assert Settings(redis_url="rediss://:pw@redis.internal:6380/1").redis_sentinel is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+sentinel://s1:26379", "no service_name"),
        ("redis+sentinel://s1:26379/", "no service_name"),
        ("redis+sentinel://s1:port/mymaster", "bad sentinel address 's1:port'"),
        ("redis+sentinel://s1:26379,,s2:26379/mymaster", "bad sentinel address ''"),
        ("redis+sentinel://s1:99999/mymaster", "bad sentinel address"),
        ("redis+sentinel://s1/mymaster/zero", "db must be a number"),
        ("redis+sentinel://s1/mymaster/0/extra", "db must be a number"),
        ("redis+sentinel://s1/mymaster?timeout=3", "unknown option 'timeout'"),
        ("redis+sentinel://s1/mymaster?ssl_ca_certs=/ca.pem", "need TLS"),
        ("sentinel://s1/mymaster", "String should match pattern"),
    ],
)
def test_a_malformed_sentinel_url_is_a_clear_settings_error(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as raised:
        Settings(redis_url=url)

    assert "REDIS_URL" in str(raised.value) or "redis_url" in str(raised.value)


def test_a_settings_error_never_shows_the_redis_password() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(redis_url="redis+sentinel://:hunter2-secret@s1:x/mymaster")

    assert "hunter2-secret" not in str(raised.value)


def test_the_replica_wait_must_fit_in_the_request_budget() -> None:
    """A WAIT longer than the budget would turn a slow replica into a 503 that blames the primary."""
    with pytest.raises(ValidationError, match="REDIS_MIN_REPLICAS_TIMEOUT_SECONDS"):
        Settings(
            redis_min_replicas=1, redis_min_replicas_timeout_seconds=1.0, redis_request_budget_seconds=1.0
        )

    assert Settings(redis_min_replicas=1, redis_min_replicas_timeout_seconds=0.5).redis_min_replicas == 1
