"""The queue's named errors (the API maps each to one HTTP status in `arqkit/web/errors.py`), and the one
place where a Redis failure becomes `QueueUnavailable`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import RedisError

from arqkit.sliding_window import Decision, Rate


class QueueError(Exception):
    """Base for the queue's named errors."""


class QueueUnavailable(QueueError):
    """Redis did not answer in time."""


class EnqueueUnconfirmed(QueueUnavailable):
    """Redis did not confirm an enqueue in time. The job may be queued all the same (the request's budget
    ends the wait for the reply, not the write): a retry with the same Idempotency-Key finds it."""


class ReplicationTimeout(QueueError):
    """Fewer than `REDIS_MIN_REPLICAS` replicas confirmed the write in time. The job may be on the primary
    all the same: a retry with the same job id (Idempotency-Key) finds it instead of enqueuing it twice."""


class JobNotFound(QueueError):
    """No such job: never enqueued, or its result has expired."""


class JobAlreadyFinished(QueueError):
    """The job has a result already (an abort comes too late)."""


class DeadLetterNotFound(QueueError):
    """No such dead letter: never failed, replayed, discarded or trimmed."""


class UnknownQueue(QueueError):
    """No queue by that name: queues are named by their priority (`default`, `critical`, `bulk`)."""


class IdempotencyKeyReused(QueueError):
    """The key was already used with a different request body."""


class RateLimited(QueueError):
    """An enqueue's admission (`JobQueue.admitted_by`) was refused: over its rate; nothing was written."""

    def __init__(self, rate: Rate, decision: Decision) -> None:
        super().__init__(
            f"too many requests: the limit is {rate.count} per {rate.period_seconds:g} s per client; "
            f"retry after {decision.retry_after} s"
        )
        self.rate = rate
        self.decision = decision


class JobNotRegistered(QueueError, LookupError):
    """The job is not in the registry the queue was given, so no worker of this deployment runs it; nothing
    was written. A bug in the caller (a route enqueuing a job `jobs/registry.py` does not list): the API
    answers 500 and logs the job's name; `QueueService` refuses to start when it sees it in a route."""


class JobArgumentsInvalid(QueueError, TypeError):
    """An enqueue's arguments do not fit the job's signature; nothing was written (arqkit/arguments.py).

    Raised where mypy would have said so, had the values' types been known: a bug in the caller."""


# Replay with edited arguments (admin.py, replay_edits.py)
class JobNotEditable(QueueError):
    """An edited replay refused: the job declares `@job(editable=False)`, its function is not in this
    deployment's registry (no signature to check the edit against), or its stored arguments cannot be
    named (`*args`). A replay with the letter's own arguments is still possible."""


class EditedArgumentsInvalid(QueueError):
    """Edited arguments that do not fit the job's signature; nothing was written. `errors` has one
    `{type, loc, msg}` per problem, `loc` naming the argument (FastAPI's 422 shape)."""

    def __init__(self, function: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{function}: " + "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in errors))
        self.function = function
        self.errors = errors


def _where(loc: list[str | int]) -> str:
    return ".".join(str(part) for part in loc) or "arguments"


class ReplayConflict(QueueError):
    """The dead letter is being (or was) replayed with other arguments: a letter makes one job at most."""

    def __init__(self, letter_id: str, job_id: str, by: str) -> None:
        super().__init__(
            f"dead letter {letter_id} was already replayed as {job_id} with other arguments ({by})"
        )
        self.job_id = job_id


@contextmanager
def unavailable_on_redis_error(error: type[QueueUnavailable] = QueueUnavailable) -> Iterator[None]:
    """Inside, a Redis or socket error leaves as `error`, a `QueueUnavailable` (the API's 503)."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise error(str(exc) or type(exc).__name__) from exc
