"""Which failures are worth another try, and when.

arq retries only on `arq.Retry`; everything else fails at once. A job's `RetryPolicy` turns ordinary
exceptions into that decision: any exception is retried with capped exponential backoff and full jitter
(honouring a downstream's `Retry-After`) up to `max_tries`, except the permanent kinds, which fail at
once: `PermanentError`, a downstream's HTTP 4xx other than 408 and 429, and validation errors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pydantic

from arqkit.errors import JobArgumentsInvalid


class PermanentError(Exception):
    """Raise from a job when another try cannot help (bad input, a rejected request)."""


class TransientError(Exception):
    """Another try later may succeed. Any exception but the permanent kinds is retried already; this one
    only says so, and keeps its message on the public job status (`serializer.public_message`)."""


# Never retried: another try would fail the same way. (`JobPayloadInvalid` is a `PermanentError`.)
PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    PermanentError,
    pydantic.ValidationError,
    JobArgumentsInvalid,  # the job enqueued another with arguments that do not fit: a bug, not bad luck
)
RETRIED_HTTP_4XX = frozenset({408, 429})  # Request Timeout, Too Many Requests: the downstream says "later"


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay_seconds: float = 0.0
    reason: str = ""


def retry_after_seconds(response: httpx.Response) -> float | None:
    """A `Retry-After` header as seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = 1.0
    max_delay: float = 300.0

    def backoff(self, job_try: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(try-1))] (AWS architecture blog)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, job_try - 1))
        return random.uniform(0, ceiling)

    def is_transient(self, exc: BaseException) -> bool:
        """Whether another try may help: yes, unless `exc` is of a permanent kind."""
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            return not 400 <= status < 500 or status in RETRIED_HTTP_4XX
        return not isinstance(exc, PERMANENT_TYPES)

    def decide(self, exc: BaseException, job_try: int, max_tries: int) -> Decision:
        if not self.is_transient(exc):
            return Decision(retry=False, reason="permanent error")
        if job_try >= max_tries:
            return Decision(retry=False, reason=f"gave up after {job_try} tries")
        delay = self.backoff(job_try)
        if isinstance(exc, httpx.HTTPStatusError):
            hinted = retry_after_seconds(exc.response)
            if hinted is not None:
                delay = min(self.max_delay, max(delay, hinted))
        return Decision(retry=True, delay_seconds=delay, reason="retrying")
