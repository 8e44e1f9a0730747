"""What each kind of route answers besides its success, for the OpenAPI document: one error model, and
the headers a client acts on. A route passes the dict of its kind, `@router.post(..., responses=PRODUCER)`;
a router of one kind passes it once (`APIRouter(responses=ADMIN)`). Combine kinds with `|`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from arqkit.client import Readiness

Responses = dict[int | str, dict[str, Any]]


class FieldError(BaseModel):
    """One entry of a 422's `detail`, as FastAPI writes it."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every error answer, in FastAPI's shape: a sentence, or for a 422 the list of what is wrong."""

    detail: str | list[FieldError]


def _header(description: str, kind: str = "integer") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("Requests allowed per window for this client (while rate limiting is on)."),
    "RateLimit-Remaining": _header("Requests left in the current window."),
    "RateLimit-Reset": _header("Seconds until the window frees a request."),
}
RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again.")}
LOCATION = {"Location": _header("The job's status URL, `/jobs/{job_id}`.", "string")}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description, **({"headers": headers} if headers else {})}


UNREADABLE_BODY: Responses = {400: _error("The body is not JSON this service can read.")}
UNAUTHORIZED: Responses = {
    401: _error(
        "No valid admin token (`Authorization: Bearer`) or session cookie.",
        {"WWW-Authenticate": _header("`Bearer`", "string")},
    )
}
NOT_FOUND: Responses = {404: _error("No such job or dead letter (unknown id, or expired).")}
CONFLICT: Responses = {409: _error("The job has already finished.")}
REPLAY_REFUSED: Responses = {
    409: _error(
        "Edited arguments refused: the job declares `editable=False` or is not registered, or the letter "
        "was already replayed with other arguments."
    )
}
TOO_LARGE: Responses = {413: _error("The body is larger than `MAX_BODY_BYTES`.")}
INVALID: Responses = {422: _error("The request does not fit its schema; `detail` lists what is wrong.")}
RATE_LIMITED: Responses = {
    429: _error("Over this client's rate limit.", {**RATE_LIMIT_HEADERS, **RETRY_AFTER})
}
UNAVAILABLE: Responses = {
    503: _error("The job queue (Redis) is unreachable; try again shortly.", RETRY_AFTER)
}

WITH_BODY: Responses = UNREADABLE_BODY | TOO_LARGE | INVALID
PRODUCER: Responses = {
    202: {"headers": {**LOCATION, **RATE_LIMIT_HEADERS}, "description": "Enqueued."},
    **WITH_BODY,
    **RATE_LIMITED,
    503: _error(
        "Redis did not confirm the job in time; it may have been accepted all the same: retry with the "
        "same `Idempotency-Key` to get that job, never a second one.",
        RETRY_AFTER,
    ),
}
JOB_STATUS: Responses = {
    200: {"headers": RATE_LIMIT_HEADERS},
    **NOT_FOUND,
    **INVALID,
    **RATE_LIMITED,
    **UNAVAILABLE,
}
JOB_ABORT: Responses = {
    202: {"headers": RATE_LIMIT_HEADERS},
    **NOT_FOUND,
    **CONFLICT,
    **INVALID,
    **RATE_LIMITED,
    **UNAVAILABLE,
}
METRICS_GUARD: Responses = {
    401: _error(
        "METRICS_TOKEN is set, and no token or another one was sent.",
        {"WWW-Authenticate": _header("`Bearer`", "string")},
    ),
    403: _error("METRICS_ALLOWED_NETWORKS is set, and the client is in none of them."),
}
FORBIDDEN: Responses = {403: _error("A write authenticated by the session cookie came from another origin.")}
ADMIN: Responses = UNAUTHORIZED | RATE_LIMITED | UNAVAILABLE  # 429: too many wrong tokens from one address
ADMIN_WRITE: Responses = FORBIDDEN  # a cookie-authenticated write from another origin
READINESS: Responses = {
    200: {
        "model": Readiness,
        "description": "Ready; `warnings` names queues whose jobs wait with no worker.",
    },
    503: {"model": Readiness, "description": "Not ready: Redis is unreachable or no worker is alive."},
}


# One server-sent event, as OpenAPI before 3.2 describes a `text/event-stream` (its `schema` is per event).
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "JSON"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def event_stream(description: str) -> Responses:
    """A `text/event-stream` answer (server-sent events) in place of JSON."""
    return {200: {"description": description, "content": {"text/event-stream": {"schema": SSE_EVENT}}}}


def plain_text(media_type: str, description: str) -> Responses:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}
