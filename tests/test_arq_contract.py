"""What this template relies on in arq 0.28, pinned: if an upgrade changes it, these fail first."""

from __future__ import annotations

import inspect

import arq
from arq import constants
from arq.connections import ArqRedis
from arq.worker import Worker

from jobs import WorkerSettings, keys
from jobs.connection import create_api_redis
from jobs.failure_watch import WATCH
from jobs.serializer import deserialize, serialize
from settings import Settings


def test_arq_version_is_the_pinned_one() -> None:
    assert arq.VERSION == "0.28.0"


def test_arq_key_layout_is_what_jobs_keys_expects() -> None:
    assert keys.job("x") == "arq:job:x"
    assert keys.result("x") == "arq:result:x"
    assert keys.retry("x") == "arq:retry:x"
    assert keys.in_progress("x") == "arq:in-progress:x"
    assert keys.ABORT_SET == "arq:abort"
    assert constants.default_queue_name == "arq:queue"


def test_worker_accepts_every_hook_and_setting_we_pass() -> None:
    accepted = set(inspect.signature(Worker).parameters)
    ours = {k for k in vars(WorkerSettings) if not k.startswith("__")}

    assert ours <= accepted, ours - accepted


def test_worker_settings_are_in_the_class_dict_not_inherited() -> None:
    """arq reads `__dict__` only (#472)."""
    assert "functions" in WorkerSettings.__dict__
    assert WorkerSettings.__dict__["job_serializer"] == WATCH.serialize
    assert WorkerSettings.__dict__["job_deserializer"] is deserialize


def test_worker_settings_set_explicit_tries_timeout_and_result_retention() -> None:
    defaults = Settings()
    assert WorkerSettings.max_tries == defaults.max_tries
    assert WorkerSettings.job_timeout == defaults.job_timeout
    assert WorkerSettings.keep_result == defaults.keep_result_seconds
    assert WorkerSettings.job_completion_wait > 0
    assert WorkerSettings.health_check_interval <= 10


async def test_enqueue_job_returns_none_for_an_existing_id(settings: Settings, redis_client: object) -> None:
    pool: ArqRedis = create_api_redis(settings)
    try:
        assert await pool.enqueue_job("send_welcome_email", _job_id="same") is not None
        assert await pool.enqueue_job("send_welcome_email", _job_id="same") is None
    finally:
        await pool.aclose()


def test_serializer_stores_exceptions_as_type_and_message_only() -> None:
    data = deserialize(serialize({"r": ValueError("bad month")}))

    assert data["r"] == {"__exception__": True, "type": "ValueError", "message": "bad month"}
