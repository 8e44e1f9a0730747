"""Fixtures of the internals' tests: an arq pool as the API makes it, and the enqueue on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from arq.connections import ArqRedis

from arqkit.internals.connection import create_api_redis
from arqkit.internals.enqueue import Enqueuer
from tests.service.settings import Settings


@pytest.fixture
async def pool(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[ArqRedis]:
    arq_redis = create_api_redis(settings)
    yield arq_redis
    await arq_redis.aclose()


@pytest.fixture
def enqueuer(pool: ArqRedis) -> Enqueuer:
    """The one-round-trip enqueue on `pool`, as the job client uses it."""
    return Enqueuer(pool)
