"""The queue's named errors, each mapped to one HTTP status, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from jobs.core import (
    DeadLetterNotFound,
    IdempotencyKeyReused,
    JobAlreadyFinished,
    JobNotFound,
    QueueUnavailable,
    UnknownQueue,
)

STATUS_AND_DETAIL: dict[type[Exception], tuple[int, str]] = {
    QueueUnavailable: (
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the job queue is unavailable, try again shortly",
    ),
    RedisError: (status.HTTP_503_SERVICE_UNAVAILABLE, "the job queue is unavailable, try again shortly"),
    JobNotFound: (status.HTTP_404_NOT_FOUND, "no such job (unknown id, or its result has expired)"),
    JobAlreadyFinished: (status.HTTP_409_CONFLICT, "the job has already finished"),
    DeadLetterNotFound: (status.HTTP_404_NOT_FOUND, "no such dead letter"),
    UnknownQueue: (status.HTTP_404_NOT_FOUND, "no such queue (default, critical or bulk)"),
    IdempotencyKeyReused: (status.HTTP_422_UNPROCESSABLE_CONTENT, ""),
}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    code, detail = next(v for t, v in STATUS_AND_DETAIL.items() if isinstance(exc, t))
    headers = {"Retry-After": "1"} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
    return JSONResponse({"detail": detail or str(exc)}, status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    for exc_type in STATUS_AND_DETAIL:
        app.add_exception_handler(exc_type, _handle)
