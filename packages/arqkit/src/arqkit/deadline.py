"""One time budget for the Redis work of an HTTP request: how long it may wait on a silent Redis.

A frozen Redis (SIGSTOP, a network that drops packets) does not refuse connections: each command waits
out its socket timeout, then redis-py retries it, and a request that makes two calls (the rate limit,
then the enqueue) used to hang for 4-10 s. The API gives each request a budget
(`REDIS_REQUEST_BUDGET_SECONDS`) and every wait on the API's pool stops at its end, so a silent Redis is
a 503 within the budget, however many calls the request makes: once it is spent, every later call fails
at once. Each answer from Redis renews it, so a long operator request on a healthy Redis (a replay of
many dead letters) is not cut short. Outside a request (the CLI, a stream once its headers are sent)
there is no budget and the pool's socket timeouts apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from redis.exceptions import RedisError


class BudgetExhausted(RedisError):
    """The request's time for Redis ran out. Not retried: a retry could only wait out the same budget."""


@dataclass
class _Budget:
    seconds: float
    deadline: float | None = None  # event-loop time; set by the first wait after a start or an answer
    spent: bool = False


_budget: ContextVar[_Budget | None] = ContextVar("redis_budget", default=None)


def start(seconds: float) -> Token[_Budget | None]:
    """Give the current request (this task and the tasks it starts) `seconds` of waiting on Redis, counted
    from its first call and renewed by each answer."""
    return _budget.set(_Budget(seconds))


def reset(token: Token[_Budget | None]) -> None:
    _budget.reset(token)


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """`start` and `reset` around a block: a background task's one round of Redis work (e.g. a flush)."""
    token = start(seconds)
    try:
        yield
    finally:
        reset(token)


def answered() -> None:
    """Redis answered: the next wait gets the whole budget again (unless it was spent already)."""
    budget = _budget.get()
    if budget is not None and not budget.spent:
        budget.deadline = None


def clear() -> None:
    """No budget from here on in this context (e.g. once a response has started streaming)."""
    _budget.set(None)


@asynccontextmanager
async def within_budget() -> AsyncIterator[None]:
    """Raise `BudgetExhausted` if the body outlives the current request's budget; no limit without one."""
    budget = _budget.get()
    if budget is None:
        yield
        return
    now = asyncio.get_running_loop().time()
    if budget.deadline is None:
        budget.deadline = now + budget.seconds
    if budget.spent or now >= budget.deadline:
        budget.spent = True
        raise BudgetExhausted("the request's time for Redis is used up")
    try:
        async with asyncio.timeout_at(budget.deadline):
            yield
    except TimeoutError as exc:
        budget.spent = True
        raise BudgetExhausted("Redis did not answer within the request's time budget") from exc
