"""The retry policy: which errors get another try, and when."""

from __future__ import annotations

import httpx
import pytest

from arqkit.retry import PermanentError, RetryPolicy, TransientError

POLICY = RetryPolicy(base_delay=1.0, max_delay=30.0)


def _http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://provider/send")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        ConnectionError(),
        httpx.ConnectTimeout("slow"),
        TransientError("later"),
        _http_error(500),
        _http_error(503),
        _http_error(429),
    ],
    ids=lambda e: type(e).__name__ + getattr(getattr(e, "response", None), "reason_phrase", ""),
)
def test_transient_errors_are_retried(exc: Exception) -> None:
    assert POLICY.decide(exc, job_try=1, max_tries=5).retry


@pytest.mark.parametrize(
    "exc",
    [PermanentError("no"), _http_error(400), _http_error(404), _http_error(422)],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_fail_at_once(exc: Exception) -> None:
    assert not POLICY.decide(exc, job_try=1, max_tries=5).retry


def test_transient_error_on_the_last_try_is_not_retried() -> None:
    decision = POLICY.decide(TimeoutError(), job_try=5, max_tries=5)

    assert not decision.retry
    assert "5 tries" in decision.reason


def test_backoff_is_full_jitter_under_an_exponential_capped_ceiling() -> None:
    for job_try, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)]:
        delays = [POLICY.backoff(job_try) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not a constant


def test_retry_after_from_a_429_is_honoured() -> None:
    decision = POLICY.decide(_http_error(429, {"Retry-After": "12"}), job_try=1, max_tries=5)

    assert decision.retry
    assert decision.delay_seconds >= 12


def test_retry_after_is_capped_by_the_maximum_delay() -> None:
    decision = POLICY.decide(_http_error(503, {"Retry-After": "3600"}), job_try=1, max_tries=5)

    assert decision.delay_seconds == 30.0
