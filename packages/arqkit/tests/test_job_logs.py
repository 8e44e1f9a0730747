"""A job's log lines carry its context, from the worker process's JSON logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit import keys
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status

NOTIFY = {"email": "ada@example.com", "name": "Ada"}
OUTCOME_EVENTS = {"job complete", "job failed", "job retrying", "job retry requested", "job cancelled"}


async def _job_lines(api: httpx.AsyncClient, worker: WorkerProcess, request_id: str) -> list[dict[str, Any]]:
    """Run one notify job enqueued by a request with `request_id`; its worker log lines, once it ended."""
    response = await api.post("/notify", json=NOTIFY, headers={"X-Request-ID": request_id})
    job_id = response.json()["job_id"]
    await wait_for_status(api, job_id, {"complete"})

    async def lines() -> list[dict[str, Any]] | None:
        parsed = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
        mine = [line for line in parsed if line.get("job_id") == job_id]
        return mine if any(line.get("event") in OUTCOME_EVENTS for line in mine) else None

    return await wait_for(lines, what="the job's outcome line in the worker log")


async def test_every_line_the_job_logs_carries_its_function_try_queue_and_request_id(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    lines = await _job_lines(api, worker, "req-logs-1")

    assert lines
    for line in lines:
        assert (line["function"], line["try"], line["queue"], line["request_id"]) == (
            "notify",
            1,
            "arq:queue",
            "req-logs-1",
        ), line


async def test_a_job_logs_one_outcome_line_with_its_duration(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    lines = await _job_lines(api, worker, "req-logs-3")

    [outcome] = [line for line in lines if line["event"] in OUTCOME_EVENTS]
    assert outcome["event"] == "job complete"
    assert isinstance(outcome["duration_s"], float)


async def _arq_lines_of_one_signup(api: httpx.AsyncClient, worker: WorkerProcess, email: str) -> list[str]:
    """Run one notify job for `email`; arq's own start and success lines for it, once both are logged."""
    job_id = (await api.post("/notify", json={"email": email, "name": "Ada"})).json()["job_id"]
    await wait_for_status(api, job_id, {"complete"})

    async def arq_lines() -> list[str] | None:
        parsed = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
        mine = [
            line["event"] for line in parsed if line.get("logger") == "arq.worker" and job_id in line["event"]
        ]
        return mine if any("←" in line for line in mine) else None

    return await wait_for(arq_lines, what="arq's start and success lines for the job")


async def _debug_worker(
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
    **more: Any,
) -> WorkerProcess:
    worker = start_worker(worker_settings=settings.model_copy(update={"log_level": "DEBUG", **more}))
    await wait_for(
        lambda: redis_client.zcard(keys.WORKERS), timeout=PROCESS_START_SECONDS, what="worker heartbeat"
    )
    return worker


async def test_at_info_a_job_logs_one_line_and_not_arqs_start_and_success_lines(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    """arq's `→ id:function(...)` and `← id:function ●` say what our outcome line says: only at DEBUG."""
    lines = await _job_lines(api, worker, "req-logs-4")

    assert [line["event"] for line in lines if line["logger"] != "httpx"] == ["job complete"]
    assert not any(("→" in line or "←" in line) for line in worker.log_text().splitlines())


async def test_no_log_line_carries_a_jobs_arguments_even_at_debug(
    api: httpx.AsyncClient,
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """arq logged `→ id:notify(email='...', name='...')`: personal data in the logs."""
    worker = await _debug_worker(settings, start_worker, redis_client)

    arq_lines = await _arq_lines_of_one_signup(api, worker, "private.person@example.com")

    assert any("→" in line and "notify(…)" in line for line in arq_lines), arq_lines
    assert "private.person" not in worker.log_text()
    assert "private.person" not in capsys.readouterr().err  # the API's own lines


async def test_log_job_arguments_true_shows_them_again(
    api: httpx.AsyncClient,
    settings: Settings,
    start_worker: Callable[..., WorkerProcess],
    redis_client: redis.asyncio.Redis,
) -> None:
    worker = await _debug_worker(settings, start_worker, redis_client, log_job_arguments=True)

    arq_lines = await _arq_lines_of_one_signup(api, worker, "shown.person@example.com")

    [start] = [line for line in arq_lines if "→" in line]
    assert "notify(_meta=" in start  # arq's own text: keyword arguments sorted, truncated
