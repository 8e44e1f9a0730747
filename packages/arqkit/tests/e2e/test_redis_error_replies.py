"""Issue 20, finding 5: a Redis that is there but refuses (read-only, out of memory) is an outage the
workers ride out, as they ride out a dropped connection: they never exit, they finish what they hold
once writes return, and every accepted job completes exactly once. The API refuses enqueues meanwhile
with a fast 503, never a 202 past `maxmemory`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

from arqkit import JobQueue, QueueUnavailable, keys
from arqkit.internals.reconnect import is_outage
from arqkit.redis_server import RedisServer, free_port
from tests.service.app import create_app
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for
from tests.support.error_reply_workers import EXECUTIONS, REGISTRY, slow_count

WORKER = "tests.support.error_reply_workers.WithSlowCount"
OUTAGE_SECONDS = 3.0  # well below the claims' CRASH_RECOVERY_SECONDS: no job may legitimately run twice
Outage = Callable[[redis.asyncio.Redis], Awaitable[object]]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this module's own, which it turns read-only, out of memory, busy or unable to save."""
    with RedisServer(extra_args=["--enable-protected-configs", "yes"]) as server:  # CONFIG SET dir
        yield server


@pytest.fixture
async def raw(own_redis: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(own_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def refusing_settings(settings: Settings, own_redis: RedisServer) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": own_redis.url,
            "crash_recovery_seconds": 20,
            "rate_limit_enabled": True,  # as shipped: the enqueue script then decides the limit first
            "rate_limit_signup": "100000/second",
        }
    )


async def read_only(raw: redis.asyncio.Redis) -> None:
    """A mis-failover: the node becomes the replica of a primary that is not there."""
    await raw.replicaof("127.0.0.1", free_port())


async def writable(raw: redis.asyncio.Redis) -> None:
    await raw.replicaof("NO", "ONE")


async def out_of_memory(raw: redis.asyncio.Redis) -> None:
    await raw.config_set("maxmemory", 1)  # with noeviction (RedisServer's, as in production)


async def memory_back(raw: redis.asyncio.Redis) -> None:
    await raw.config_set("maxmemory", 0)


class Busy:
    """A script that keeps Redis busy past `busy-reply-threshold`: every other client gets BUSY."""

    SCRIPT = (Path(__file__).parents[1] / "support" / "busy.lua").read_text()  # read once

    def __init__(self, url: str) -> None:
        self.client = redis.asyncio.Redis.from_url(url)
        self.task: asyncio.Task[object] | None = None

    async def start(self, raw: redis.asyncio.Redis) -> None:
        await raw.config_set("busy-reply-threshold", 100)
        milliseconds = str(int((OUTAGE_SECONDS + 1) * 1000))
        self.task = asyncio.create_task(self.client.eval(self.SCRIPT, 0, milliseconds))
        await asyncio.sleep(0.3)

    async def end(self, raw: redis.asyncio.Redis) -> None:
        assert self.task is not None
        await self.task
        await self.client.aclose()


class FailingDisk:
    """A snapshot that cannot be written (its directory refuses files): Redis answers writes MISCONF."""

    def __init__(self) -> None:
        self.directory = ""

    async def start(self, raw: redis.asyncio.Redis) -> None:
        self.directory = (await raw.config_get("dir"))["dir"]
        await raw.config_set("save", "3600 1")  # stop-writes-on-bgsave-error applies with save points
        await raw.config_set("dir", "/proc")
        await raw.bgsave()
        await wait_for(lambda: _last_save_failed(raw), timeout=10, what="a failed BGSAVE")

    async def end(self, raw: redis.asyncio.Redis) -> None:
        await raw.config_set("dir", self.directory)
        await raw.bgsave()
        await wait_for(lambda: _last_save_ok(raw), timeout=10, what="a BGSAVE that worked")


async def _jobs_run_once_through(
    settings: Settings,
    raw: redis.asyncio.Redis,
    start_worker: Callable[..., WorkerProcess],
    refuse: Outage,
    accept: Outage,
    while_refused: Callable[[], Awaitable[None]] | None = None,
) -> None:
    workers = [start_worker(WORKER, settings) for _ in range(2)]
    heartbeats = lambda: _at_least(raw.zcard(keys.WORKERS), 2)  # noqa: E731
    await wait_for(heartbeats, timeout=PROCESS_START_SECONDS, what="two worker heartbeats")
    queue = JobQueue.connect(settings, REGISTRY)
    try:
        running = [await queue.enqueue(slow_count, seconds=1.0) for _ in range(20)]  # finish in the outage
        later = queue.with_options(defer_by=timedelta(seconds=1.5))  # due in the outage: claimed after it
        due_later = [await later.enqueue(slow_count, seconds=0.1) for _ in range(20)]
        await wait_for(lambda: _in_progress(raw), timeout=10, what="jobs in progress")

        await refuse(raw)
        with pytest.raises(QueueUnavailable):  # refused, not accepted
            await queue.enqueue(slow_count, seconds=0)
        if while_refused is not None:
            await while_refused()
        await asyncio.sleep(OUTAGE_SECONDS)
        await accept(raw)

        accepted = [job.job_id for job in [*running, *due_later]]
        await wait_for(lambda: _all_complete(queue, accepted), timeout=60, what="every accepted job complete")
    finally:
        await queue.aclose()
    runs = {k.decode(): int(v) for k, v in (await raw.hgetall(EXECUTIONS)).items()}  # type: ignore[misc]
    assert runs == dict.fromkeys(accepted, 1)  # each once: none lost, none run twice
    for worker in workers:
        assert worker.process is not None
        assert worker.process.poll() is None, f"a worker exited:\n{worker.log_text()[-3000:]}"
        assert "redis refuses commands; retrying" in worker.log_text()


async def test_workers_ride_out_a_read_only_redis_and_finish_every_job_once(
    refusing_settings: Settings, raw: redis.asyncio.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    await _jobs_run_once_through(refusing_settings, raw, start_worker, read_only, writable)


async def test_workers_ride_out_an_out_of_memory_redis_and_finish_every_job_once(
    refusing_settings: Settings, raw: redis.asyncio.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    await _jobs_run_once_through(refusing_settings, raw, start_worker, out_of_memory, memory_back)


async def test_workers_ride_out_a_busy_redis_and_finish_every_job_once(
    refusing_settings: Settings,
    raw: redis.asyncio.Redis,
    own_redis: RedisServer,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    busy = Busy(own_redis.url)
    await _jobs_run_once_through(refusing_settings, raw, start_worker, busy.start, busy.end)


async def test_workers_ride_out_a_redis_that_cannot_save_and_finish_every_job_once(
    refusing_settings: Settings, raw: redis.asyncio.Redis, start_worker: Callable[..., WorkerProcess]
) -> None:
    disk = FailingDisk()
    await _jobs_run_once_through(refusing_settings, raw, start_worker, disk.start, disk.end)


@pytest.mark.latency
async def test_signup_while_redis_is_out_of_memory_is_a_fast_503_not_a_202(
    refusing_settings: Settings, raw: redis.asyncio.Redis
) -> None:
    app = create_app(refusing_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            assert (await api.post("/notify", json=_signup(0))).status_code == 202
            await out_of_memory(raw)

            started = time.monotonic()
            answers = [await api.post("/notify", json=_signup(n)) for n in range(1, 21)]
            elapsed = time.monotonic() - started
            await memory_back(raw)

    assert {answer.status_code for answer in answers} == {503}
    assert all(answer.headers["retry-after"] == "1" for answer in answers)
    assert elapsed < 2, f"20 refusals took {elapsed:.2f}s"
    assert await raw.zcard(refusing_settings.queue_name) == 1  # nothing past maxmemory


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ReadOnlyError("You can't write against a read only replica."), True),
        (OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), True),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots, but it's unable to"), True),
        (ResponseError("Command # 1 (EVAL ...) of pipeline caused error: ('BUSY Redis is busy',)"), True),
        (ResponseError("UNBLOCKED force unblock from blocking operation, instance state changed"), True),
        (ResponseError("BUSYGROUP Consumer Group name already exists"), False),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), False),
        (ResponseError("Command # 2 (SET a) of pipeline caused error: ('ERR syntax error',)"), False),
    ],
)
def test_only_the_replies_of_a_redis_that_refuses_for_now_count_as_an_outage(
    error: Exception, outage: bool
) -> None:
    assert is_outage(error) is outage


def _signup(n: int) -> dict[str, str]:
    return {"email": f"u{n}@example.com", "name": "U"}


async def _at_least(count: Awaitable[int], wanted: int) -> bool:
    return await count >= wanted


async def _last_save_failed(raw: redis.asyncio.Redis) -> bool:
    return bool((await raw.info("persistence"))["rdb_last_bgsave_status"] == "err")


async def _last_save_ok(raw: redis.asyncio.Redis) -> bool:
    info = await raw.info("persistence")
    return info["rdb_last_bgsave_status"] == "ok" and not info["rdb_bgsave_in_progress"]


async def _in_progress(raw: redis.asyncio.Redis) -> bool:
    return bool(await raw.keys(keys.in_progress("*")))


async def _all_complete(queue: JobQueue, job_ids: list[str]) -> bool:
    for job_id in job_ids:
        if (await queue.status(job_id)).status != "complete":
            return False
    return True
