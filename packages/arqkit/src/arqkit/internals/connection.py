"""How the API and the worker reach Redis: JSON serializer, short timeouts, retry on connection errors.

The API's pool also keeps to each request's time budget (`budget.py`). With a `redis+sentinel://` URL
each pool finds the primary through the sentinels and follows it when it moves (`sentinel.py`).
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis, RedisSettings
from redis import Redis as SyncRedis
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from arqkit.internals.budget import BudgetedConnectionPool, budgeted_pool
from arqkit.internals.packing import hiredis_packing
from arqkit.internals.sentinel import PrimaryFromSentinels, SentinelPool, sentinel_pool, sync_primary
from arqkit.internals.wakeup import WakeableRedis
from arqkit.serializer import deserialize, serialize
from arqkit.settings import QueueSettings

__all__ = [
    "ArqRedis",
    "create_api_redis",
    "create_sync_redis",
    "create_worker_redis",
    "worker_redis_settings",
]

# redis-py's own errors, and the OS's (a refused reconnect while Redis restarts is a builtin
# ConnectionRefusedError, which redis-py's default retry does not cover: the worker would exit).
RETRYABLE_ERRORS: list[type[Exception]] = [
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
]

# The worker pool's redis-py retry: one immediate reconnect (a pooled connection Redis closed). Riding
# out an outage is reconnect.py's one retry layer; two layers of retries would multiply.
WORKER_CONNECTION_RETRIES = 1


def create_api_redis(settings: QueueSettings) -> ArqRedis:
    """The API's one shared pool: fails within about a second when Redis is away, so callers answer 503."""
    pool = _pool(
        settings,
        budgeted=True,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), settings.redis_retry_attempts),
        retry_on_error=RETRYABLE_ERRORS,
        health_check_interval=30,
    )
    return ArqRedis(
        pool,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )


def worker_redis_settings(settings: QueueSettings) -> RedisSettings:
    """What `arq jobs.WorkerSettings --check` connects with (the worker runs on `create_worker_redis`):
    one attempt, so an unreachable Redis is a non-zero exit within seconds, not a half-hour of retries."""
    sentinel = settings.redis_sentinel
    if sentinel is None:
        redis_settings = RedisSettings.from_dsn(settings.redis_url)
    else:
        redis_settings = PrimaryFromSentinels(sentinel, settings)
    redis_settings.conn_timeout = max(1, round(settings.redis_connect_timeout_seconds))
    redis_settings.conn_retries = 0
    redis_settings.retry = Retry(NoBackoff(), 0)
    return redis_settings


def create_worker_redis(settings: QueueSettings) -> WakeableRedis:
    """The worker's pool (`Worker(redis_pool=...)`): its idle queue read blocks on a wake-up list.

    No socket timeout: the idle read blocks in BLPOP by design. Connects lazily, in the worker's loop.
    """
    pool = _pool(
        settings,
        budgeted=False,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        retry=Retry(NoBackoff(), WORKER_CONNECTION_RETRIES),  # one immediate reconnect
        retry_on_error=RETRYABLE_ERRORS,
    )
    redis = WakeableRedis(
        pool,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )
    redis.idle_wait_seconds = settings.worker_idle_wait_seconds
    return redis


def create_sync_redis(settings: QueueSettings) -> SyncRedis:
    """A blocking client for a thread or a child process (the claim keeper, a sync job's progress): short
    timeouts, so a Redis that is away costs its caller seconds, never a hang. Thread-safe."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
    }
    sentinel = settings.redis_sentinel
    if sentinel is None:
        client: SyncRedis = SyncRedis.from_url(settings.redis_url, **options)
        return client
    return sync_primary(sentinel, settings, **options)


def _pool(settings: QueueSettings, *, budgeted: bool, **options: Any) -> ConnectionPool:
    """A pool for `REDIS_URL`: a plain one, or one whose connections ask the sentinels for the primary.
    Either way its commands are packed by hiredis (`packing.py`)."""
    sentinel = settings.redis_sentinel
    pool: ConnectionPool
    if sentinel is None:
        plain = BudgetedConnectionPool if budgeted else ConnectionPool
        pool = plain.from_url(settings.redis_url, **options)
    else:
        pool_class = budgeted_pool(SentinelPool) if budgeted else SentinelPool
        pool = sentinel_pool(pool_class, sentinel, settings, **options)
    pool.connection_class = hiredis_packing(pool.connection_class)
    return pool
