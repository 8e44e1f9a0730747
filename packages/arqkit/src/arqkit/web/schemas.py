"""The bodies of the routes that ship with the template: the 202 answer, job ids, admin operations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from arqkit import Enqueued
from arqkit.replay_edits import ArgumentChange
from arqkit.web import rate_limit

JOB_ID_PATTERN = r"^[A-Za-z0-9:._-]{1,128}$"
# The largest integer every JSON reader holds exactly (JavaScript's numbers are doubles): bound integer
# fields by it, or by a smaller domain bound, so a value the queue or a client cannot carry is a 422.
MAX_SAFE_INTEGER = 2**53 - 1
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="A job id as returned by a producer.")]


class StrictBody(BaseModel):
    """A request body that refuses unknown fields (a typo is a 422, not a silently ignored field)."""

    model_config = ConfigDict(extra="forbid")


class Accepted(BaseModel):
    job_id: str
    status: Literal["queued", "deferred"]
    status_url: str


def accepted(job: Enqueued, response: Response) -> Accepted:
    """The 202 answer of every producer: the job's id, and where to look (also in `Location`); with the
    rate limit's headers when the enqueue passed one (`RateLimitedQueue`)."""
    status_url = f"/jobs/{job.job_id}"
    response.headers["Location"] = status_url
    if job.admission is not None:
        response.headers.update(rate_limit.headers(job.admission))
    return Accepted(job_id=job.job_id, status=job.status, status_url=status_url)


class ReplayAccepted(Accepted):
    replay_of: str
    warning: str | None = None  # e.g. no live worker serves the letter's queue: the job would wait
    changes: list[ArgumentChange] | None = None  # an edited replay's diff; None: the letter's own arguments


# Printable, one line: it goes into the audit record and a log line.
OperatorName = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,100}$")]


class ReplayEdit(StrictBody):
    """A replay with corrected arguments: every argument of the job by name, as JSON (see the preview's
    `before` for the letter's own). Without `kwargs`, the letter's own arguments."""

    kwargs: dict[str, Any] | None = None
    operator: OperatorName | None = None  # who asks, for the audit (the admin token names no one)


class AbortRequested(BaseModel):
    job_id: str
    status: Literal["abort_requested"] = "abort_requested"


class ReplayWindow(StrictBody):
    since_seconds: int = Field(gt=0, le=90 * 86_400)
    # At most this many letters per request (the oldest of the window first): a request stays short.
    limit: int = Field(100, ge=1, le=1000)
    # The window's end, from a previous answer: resume without letters that failed since.
    until_ms: int | None = Field(None, ge=0)


class Replayed(BaseModel):
    count: int
    job_ids: list[str]
    remaining: int  # letters of the window left: post again with `until_ms` while it is not 0
    until_ms: int
    warnings: list[str] = []
