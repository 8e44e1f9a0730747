"""The queue's named errors, each mapped to one HTTP status, in one place; and 422s JSON can always carry."""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from arqkit import (
    DeadLetterNotFound,
    EditedArgumentsInvalid,
    EnqueueUnconfirmed,
    IdempotencyKeyReused,
    JobAlreadyFinished,
    JobNotEditable,
    JobNotFound,
    JobNotRegistered,
    QueueUnavailable,
    RateLimited,
    ReplayConflict,
    ReplicationTimeout,
    UnknownQueue,
)
from arqkit.web import rate_limit

RETRY_WITH_THE_SAME_KEY = (
    "it may have been accepted all the same: retry with the same Idempotency-Key header and you get that "
    "job, never a second one (without a key, a retry may enqueue it twice)"
)
MAY_HAVE_BEEN_ACCEPTED = "the job queue did not confirm the job in time; " + RETRY_WITH_THE_SAME_KEY
# The first type a raised error is an instance of answers it: a subclass before its base.
STATUS_AND_DETAIL: dict[type[Exception], tuple[int, str]] = {
    EnqueueUnconfirmed: (status.HTTP_503_SERVICE_UNAVAILABLE, MAY_HAVE_BEEN_ACCEPTED),
    QueueUnavailable: (
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the job queue is unavailable, try again shortly",
    ),
    ReplicationTimeout: (
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the job was not confirmed by enough Redis replicas in time; " + RETRY_WITH_THE_SAME_KEY,
    ),
    RedisError: (status.HTTP_503_SERVICE_UNAVAILABLE, "the job queue is unavailable, try again shortly"),
    JobNotFound: (status.HTTP_404_NOT_FOUND, "no such job (unknown id, or its result has expired)"),
    JobAlreadyFinished: (status.HTTP_409_CONFLICT, "the job has already finished"),
    DeadLetterNotFound: (status.HTTP_404_NOT_FOUND, "no such dead letter"),
    UnknownQueue: (status.HTTP_404_NOT_FOUND, "no such queue (default, critical or bulk)"),
    JobNotEditable: (status.HTTP_409_CONFLICT, ""),  # "": the error's own sentence
    ReplayConflict: (status.HTTP_409_CONFLICT, ""),
}
MAX_ECHO_DEPTH = 32
log = structlog.get_logger("api.errors")
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # as JavaScript spells them


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    code, detail = next(v for t, v in STATUS_AND_DETAIL.items() if isinstance(exc, t))
    headers = {"Retry-After": "1"} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
    return JSONResponse({"detail": detail or str(exc)}, status_code=code, headers=headers)


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    """429 with when to come back (`Retry-After`) and the RateLimit-* headers."""
    assert isinstance(exc, RateLimited)
    headers = {**rate_limit.headers(exc.decision), "Retry-After": str(exc.decision.retry_after)}
    return JSONResponse({"detail": str(exc)}, status.HTTP_429_TOO_MANY_REQUESTS, headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with each echoed `input` made encodable: `1e309` or `NaN` in a body parses to a
    float JSON cannot write, and a lone surrogate (`"\\ud800"`) to a str UTF-8 cannot; either made the
    default handler raise, a 500."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": encodable(errors)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _idempotency_key_reused(request: Request, exc: Exception) -> JSONResponse:
    """A 422 in FastAPI's shape (a list of errors), like every other 422 of the API."""
    error = {"type": "idempotency_key_reused", "loc": ["header", "Idempotency-Key"], "msg": str(exc)}
    return JSONResponse({"detail": [error]}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _edited_arguments_invalid(request: Request, exc: Exception) -> JSONResponse:
    """A 422 in FastAPI's shape, each entry's `loc` naming the argument: `["body", "kwargs", "email"]`."""
    assert isinstance(exc, EditedArgumentsInvalid)
    errors = [{**error, "loc": ["body", "kwargs", *error["loc"]]} for error in exc.errors]
    return JSONResponse({"detail": encodable(errors)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _job_not_registered(request: Request, exc: Exception) -> JSONResponse:
    """A bug in the route, not the client's doing: a 500 that says so, the job's name in the log only."""
    log.error("a route enqueued a job the registry does not hold; nothing was written", error=str(exc))
    detail = "this route's job is not registered with the service (a bug in the service); nothing was queued"
    return JSONResponse({"detail": detail}, status.HTTP_500_INTERNAL_SERVER_ERROR)


def encodable(value: Any, depth: int = 0) -> Any:
    """`value` (parsed JSON) with non-finite floats as their names, lone surrogates escaped, tuples as
    lists, other objects (an exception in `ctx`) as text, and anything nested deeper than
    `MAX_ECHO_DEPTH` elided: a body nested 900 deep parses, but must not take the handler's stack."""
    if depth > MAX_ECHO_DEPTH:
        return "..."
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(str(key)): encodable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item, depth + 1) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return encodable(str(value))


def install_error_handlers(app: FastAPI) -> None:
    for exc_type in STATUS_AND_DETAIL:
        app.add_exception_handler(exc_type, _handle)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(IdempotencyKeyReused, _idempotency_key_reused)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(JobNotRegistered, _job_not_registered)
    app.add_exception_handler(EditedArgumentsInvalid, _edited_arguments_invalid)
