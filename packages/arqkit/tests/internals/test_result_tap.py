"""internals/result_tap.py and the worker's deserializer rely on how arq 0.28 ends a job: pinned here."""

from __future__ import annotations

import inspect
from typing import Any

import orjson
import pytest
import redis.asyncio
from arq.jobs import DeserializationError, SerializationError, deserialize_job_raw, serialize_result
from arq.worker import Worker

from arqkit import keys
from arqkit.internals.connection import create_worker_redis
from arqkit.internals.result_tap import ResultTap
from arqkit.serializer import deserialize
from tests.service.settings import Settings


def test_arq_turns_any_deserializer_error_into_the_serialization_error_run_job_handles() -> None:
    """serializer.py raises `MalformedPayload`; arq wraps it, and `run_job` fails the job on it."""
    with pytest.raises(DeserializationError):
        deserialize_job_raw(b'{"f":["x"],"a":[],"k":{},"t":1,"et":1}', deserializer=deserialize)
    assert issubclass(DeserializationError, SerializationError)
    source = inspect.getsource(Worker.run_job)
    call = source.index("deserialize_job_raw(")
    assert source.index("except SerializationError as e:", call) < source.index("return await job_failed(e)")


@pytest.mark.parametrize("method", [Worker.finish_job, Worker.finish_failed_job])
def test_arq_stores_a_result_with_set_inside_a_transaction(method: Any) -> None:
    """The tap's pipeline adds the dead letter to the transaction that SETs `arq:result:<id>`."""
    source = inspect.getsource(method)
    assert "self.pool.pipeline(transaction=True)" in source
    assert "tr.set(result_key_prefix + job_id, result_data" in source


def _failed_result(job_id: str, tap: ResultTap) -> bytes:
    raw = serialize_result(
        "f", (), {}, 1, 10, False, ValueError("no"), 11, 12, "ref", "q", job_id, serializer=tap.serialize
    )
    assert raw is not None
    return raw


async def test_a_failed_result_and_its_dead_letter_are_one_transaction(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    tap = ResultTap()
    pool = create_worker_redis(settings)
    pool.pipeline_factory = tap.pipeline
    try:
        raw = _failed_result("j-1", tap)
        async with pool.pipeline(transaction=True) as tr:
            tr.set(keys.result("j-1"), raw)
            await tr.execute()
    finally:
        await pool.aclose()

    assert tap.pending == 0
    letter = orjson.loads(await redis_client.hget(keys.DEAD_LETTER_DATA, "j-1"))  # type: ignore[misc]
    assert letter["error"] == {"type": "ValueError", "message": "no"}


async def test_a_letter_whose_transaction_is_not_run_stays_noted_for_the_flush(settings: Settings) -> None:
    tap = ResultTap()
    pool = create_worker_redis(settings)
    pool.pipeline_factory = tap.pipeline
    try:
        async with pool.pipeline(transaction=True) as tr:
            tr.set(keys.result("j-2"), _failed_result("j-2", tap))
    finally:
        await pool.aclose()

    assert tap.pending == 1
