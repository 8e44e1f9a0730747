"""internals/reconnect.py: how arq runs and stops its worker loop (the one fact a fast stop relies on),
and the retries outside a running worker."""

from __future__ import annotations

import inspect
import time

import pytest
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError

from arqkit.internals.connection import create_worker_redis, worker_redis_settings
from arqkit.redis_server import free_port
from tests.service.settings import Settings


def test_arq_runs_its_poll_loop_as_the_main_task_that_a_stop_signal_cancels() -> None:
    """`Reconnect` retries while the task running `Worker.main()` runs and is not being cancelled."""
    assert "self.main_task = self.loop.create_task(self.main())" in inspect.getsource(Worker.run)
    assert "self.loop.run_until_complete(self.close())" in inspect.getsource(Worker.run)
    assert "self.main_task.cancel()" in inspect.getsource(Worker.handle_sig)
    assert "self.main_task.cancel()" in inspect.getsource(Worker._wait_for_tasks_to_complete)


@pytest.mark.latency
async def test_outside_a_running_worker_an_unreachable_redis_fails_at_once(settings: Settings) -> None:
    pool = create_worker_redis(
        settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    )
    started = time.monotonic()
    try:
        with pytest.raises(RedisConnectionError):
            await pool.ping()
    finally:
        await pool.aclose()

    assert time.monotonic() - started < 2


def test_the_check_command_connects_once() -> None:
    """`arq --check` reads `redis_settings`: no reconnect loop around an unreachable Redis."""
    redis_settings = worker_redis_settings(Settings())

    assert redis_settings.conn_retries == 0
    assert redis_settings.retry is not None
    assert redis_settings.retry._retries == 0
