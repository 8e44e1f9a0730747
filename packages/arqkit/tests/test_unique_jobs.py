"""Unique jobs (`@job(unique=Unique(...))`): a second enqueue whose key is taken answers with the first
job, while it is queued or running (released however it ends, a killed worker's included), or for a
window after the first enqueue. Real Redis, real worker processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

import httpx
import pytest
import redis.asyncio

from arqkit import Enqueued, Unique, job, keys
from arqkit.client import JobQueue
from arqkit.job import AnyContext
from arqkit.unique import lock_for
from tests.service import keys as service_keys
from tests.service.jobs import ping_topic, sync_account
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status

FINAL = {"complete", "failed", "aborted"}


async def _release(redis_client: redis.asyncio.Redis, account_id: int) -> None:
    await redis_client.set(service_keys.released(account_id), "1")


def _lock_key(account_id: int) -> str:
    lock = lock_for(sync_account.name, sync_account.arguments, Unique("account_id"), [account_id], {})
    return lock.key


async def _lock_deleted(redis_client: redis.asyncio.Redis, account_id: int) -> bool:
    return not await redis_client.exists(_lock_key(account_id))


async def _runs(redis_client: redis.asyncio.Redis, job_id: str) -> int:
    return int(await cast(Awaitable[bytes | None], redis_client.hget(service_keys.runs(), job_id)) or 0)


async def test_while_queued_a_second_enqueue_returns_the_first_job(job_queue: JobQueue) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1)
    again = await job_queue.enqueue(sync_account, account_id=1, fail=True)  # the key is the account only
    other = await job_queue.enqueue(sync_account, account_id=2)

    assert first.created
    assert (again.job_id, again.created) == (first.job_id, False)
    assert other.created
    assert other.job_id != first.job_id


async def test_racing_enqueues_of_one_key_make_one_job(job_queue: JobQueue) -> None:
    racing = await asyncio.gather(*(job_queue.enqueue(sync_account, account_id=1) for _ in range(20)))

    assert len({enqueued.job_id for enqueued in racing}) == 1
    assert [enqueued.created for enqueued in racing].count(True) == 1


async def test_while_running_a_second_enqueue_returns_the_running_job_and_once_it_completes_a_new_one(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1)
    await wait_for_status(api, first.job_id, {"in_progress"}, timeout=PROCESS_START_SECONDS)

    again = await job_queue.enqueue(sync_account, account_id=1)
    await _release(redis_client, 1)
    done = await wait_for_status(api, first.job_id, FINAL)
    await wait_for(lambda: _lock_deleted(redis_client, 1), what="the worker to delete the spent lock")
    after = await job_queue.enqueue(sync_account, account_id=1)

    assert (again.job_id, again.created) == (first.job_id, False)
    assert done["status"] == "complete"
    assert after.created
    assert after.job_id != first.job_id


async def test_a_job_that_fails_for_good_frees_its_key(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    await _release(redis_client, 1)
    first = await job_queue.enqueue(sync_account, account_id=1, fail=True)

    done = await wait_for_status(api, first.job_id, FINAL, timeout=PROCESS_START_SECONDS)
    await wait_for(lambda: _lock_deleted(redis_client, 1), what="the worker to delete the spent lock")
    after = await job_queue.enqueue(sync_account, account_id=1)

    assert done["status"] == "failed"
    assert after.created
    assert after.job_id != first.job_id


async def test_a_running_job_that_is_aborted_frees_its_key(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1)
    await wait_for_status(api, first.job_id, {"in_progress"}, timeout=PROCESS_START_SECONDS)

    assert (await api.delete(f"/jobs/{first.job_id}")).status_code == 202
    done = await wait_for_status(api, first.job_id, FINAL)
    after = await job_queue.enqueue(sync_account, account_id=1)

    assert done["status"] == "aborted"
    assert after.created
    assert after.job_id != first.job_id


async def test_a_queued_job_that_is_aborted_frees_its_key(
    api: httpx.AsyncClient, job_queue: JobQueue
) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1)

    assert (await api.delete(f"/jobs/{first.job_id}")).status_code == 202
    after = await job_queue.enqueue(sync_account, account_id=1)

    assert after.created
    assert after.job_id != first.job_id


async def test_a_job_waiting_for_its_retry_keeps_its_key(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess, redis_client: redis.asyncio.Redis
) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1, fail_first_try=True)
    await wait_for(
        lambda: _second_try_running(api, first.job_id), timeout=PROCESS_START_SECONDS, what="the second try"
    )

    again = await job_queue.enqueue(sync_account, account_id=1)
    lock_during_retry = await redis_client.get(_lock_key(1))
    await _release(redis_client, 1)
    done = await wait_for_status(api, first.job_id, FINAL)

    assert (again.job_id, again.created) == (first.job_id, False)
    assert lock_during_retry == first.job_id.encode()  # the first try's end did not delete it
    assert (done["status"], done["try"]) == ("complete", 2)


async def _second_try_running(api: httpx.AsyncClient, job_id: str) -> bool:
    body = (await api.get(f"/jobs/{job_id}")).json()
    return bool(body["status"] == "in_progress" and body["try"] == 2)


async def test_a_killed_workers_job_keeps_its_key_until_its_rerun_finishes(
    api: httpx.AsyncClient,
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    doomed = start_worker()
    first = await job_queue.enqueue(sync_account, account_id=1)
    await wait_for(  # it ran (claimed alone, it might not have started)
        lambda: _runs(redis_client, first.job_id), timeout=PROCESS_START_SECONDS, what="the first run"
    )
    doomed.kill()

    while_orphaned = await job_queue.enqueue(sync_account, account_id=1)
    start_worker()
    await wait_for(
        lambda: _ran_twice(redis_client, first.job_id), timeout=PROCESS_START_SECONDS, what="the re-run"
    )
    while_rerunning = await job_queue.enqueue(sync_account, account_id=1)
    await _release(redis_client, 1)
    done = await wait_for_status(api, first.job_id, FINAL)
    after = await job_queue.enqueue(sync_account, account_id=1)

    assert {while_orphaned.job_id, while_rerunning.job_id} == {first.job_id}
    assert not while_orphaned.created
    assert not while_rerunning.created
    assert done["status"] == "complete"
    assert after.created
    assert after.job_id != first.job_id


async def _ran_twice(redis_client: redis.asyncio.Redis, job_id: str) -> bool:
    return await _runs(redis_client, job_id) >= 2


async def test_the_lock_expires_with_its_jobs_key_as_a_backstop(
    job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    first = await job_queue.enqueue(sync_account, account_id=1)

    assert await redis_client.get(_lock_key(1)) == first.job_id.encode()
    lock_ttl = await redis_client.pttl(_lock_key(1))
    job_ttl = await redis_client.pttl(keys.job(first.job_id))
    assert 0 < lock_ttl <= job_ttl + 1000


async def test_within_its_window_an_enqueue_returns_the_first_job_even_once_it_finished(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    started = time.monotonic()
    first = await job_queue.enqueue(ping_topic, topic="news")
    await wait_for_status(api, first.job_id, FINAL, timeout=PROCESS_START_SECONDS)

    again = await job_queue.enqueue(ping_topic, topic="news", note="later")
    other_topic = await job_queue.enqueue(ping_topic, topic="sport")

    async def new_job() -> Enqueued | None:
        enqueued = await job_queue.enqueue(ping_topic, topic="news")
        return enqueued if enqueued.created else None

    after_window = await wait_for(new_job, timeout=10, interval=0.1, what="the window to pass")
    assert time.monotonic() - started >= 1.9  # the window is 2 s (Redis's clock; a little slack)
    assert (again.job_id, again.created) == (first.job_id, False)
    assert other_topic.created
    assert after_window.job_id != first.job_id


async def test_the_same_values_in_another_jobs_key_are_another_lock(job_queue: JobQueue) -> None:
    account = await job_queue.enqueue(sync_account, account_id=7)
    topic = await job_queue.enqueue(ping_topic, topic="7")

    assert account.created
    assert topic.created


@job(unique=Unique("a", "b"))
async def pair(ctx: AnyContext, a: str, b: str, c: int = 0) -> None:
    """A job keyed by two arguments (no Redis needed: only its locks are looked at)."""


def test_values_that_read_the_same_once_joined_are_different_keys() -> None:
    one = lock_for(pair.name, pair.arguments, Unique("a", "b"), ["x:y", "z"], {})
    two = lock_for(pair.name, pair.arguments, Unique("a", "b"), ["x", "y:z"], {})
    by_keyword = lock_for(pair.name, pair.arguments, Unique("a", "b"), [], {"b": "z", "a": "x:y"})

    assert one.key != two.key
    assert one.key == by_keyword.key


def test_a_unique_key_naming_no_parameter_is_refused_where_the_job_is_declared() -> None:
    with pytest.raises(TypeError, match="not parameters"):

        @job(unique=Unique("user"))
        async def typo(ctx: AnyContext, user_id: int) -> None: ...


async def test_an_idempotency_key_with_its_job_answers_it_and_a_new_key_gets_the_unique_holder(
    job_queue: JobQueue,
) -> None:
    first = await (await job_queue.idempotent("sync", "key-1", "{}")).enqueue(sync_account, account_id=1)
    retried = await (await job_queue.idempotent("sync", "key-1", "{}")).enqueue(sync_account, account_id=1)
    other_key = await (await job_queue.idempotent("sync", "key-2", "{}")).enqueue(sync_account, account_id=1)

    assert first.created
    assert (retried.job_id, retried.created) == (first.job_id, False)
    assert (other_key.job_id, other_key.created) == (first.job_id, False)
