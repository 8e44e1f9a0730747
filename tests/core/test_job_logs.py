"""A job's log lines carry its context, from the worker process's JSON logs."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support import WorkerProcess, wait_for, wait_for_status

SIGNUP = {"email": "ada@example.com", "name": "Ada"}
OUTCOME_EVENTS = {"job complete", "job failed", "job retrying", "job retry requested", "job cancelled"}


async def _job_lines(api: httpx.AsyncClient, worker: WorkerProcess, request_id: str) -> list[dict[str, Any]]:
    """Run one signup job enqueued by a request with `request_id`; its worker log lines, once it ended."""
    response = await api.post("/signup", json=SIGNUP, headers={"X-Request-ID": request_id})
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
            "send_welcome_email",
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
