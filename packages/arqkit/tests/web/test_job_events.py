"""Watching one job: `GET /jobs/{id}/events` (server-sent events, against a real uvicorn, since httpx's
in-process transport does not stream) and `GET /jobs/{id}?wait=N` (the long poll)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from arqkit.client import JobQueue
from arqkit.redis_server import RedisServer
from tests.service.jobs import long_task
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import WorkerProcess, serve_api, wait_for, wait_for_status

Event = dict[str, str]


@pytest.fixture
def watch_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_watch_poll_seconds": 0.05, "long_steps": 5})


@pytest.fixture
def live_api(watch_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serve_api(watch_settings, tmp_path / "api.log") as url:
        yield url


@pytest.fixture
async def http(live_api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_api, timeout=20) as client:
        yield client


@pytest.fixture
def worker_now(
    start_worker: Callable[..., WorkerProcess], watch_settings: Settings
) -> Callable[[], WorkerProcess]:
    """Start a worker with the same settings as the API, when the test says so."""
    return lambda: start_worker(worker_settings=watch_settings)


async def read_events(response: httpx.Response) -> AsyncGenerator[Event]:
    """The events of a `text/event-stream` body, each as {field: value}; a `retry:` alone is one too."""
    event: Event = {}
    async for line in response.aiter_lines():
        if line:
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")
        elif event:
            yield event
            event = {}


def statuses(events: list[Event]) -> list[str]:
    return [json.loads(event["data"])["status"] for event in events if "data" in event]


async def collect(http: httpx.AsyncClient, job_id: str, **headers: str) -> list[Event]:
    async with http.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in read_events(response)]


async def test_the_stream_sends_each_change_as_the_status_json_and_closes_after_complete(
    http: httpx.AsyncClient, job_queue: JobQueue, worker_now: Callable[[], WorkerProcess]
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    worker_now()

    events = await collect(http, job.job_id)  # returns only once the server closes the stream

    data = [json.loads(event["data"]) for event in events if "data" in event]
    assert data[-1]["status"] == "complete"
    assert data[-1] == (await http.get(f"/jobs/{job.job_id}")).json()
    progress = [d["progress"] for d in data if d["status"] == "in_progress" and d["progress"]]
    assert len(progress) >= 2  # each progress step is a change
    assert progress == sorted(progress)
    assert len({event["id"] for event in events if "data" in event}) == len(data)  # each change once


async def test_the_stream_starts_with_a_retry_hint(http: httpx.AsyncClient, job_queue: JobQueue) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")

    async with http.stream("GET", f"/jobs/{job.job_id}/events") as response:
        first = await anext(read_events(response))

    assert first == {"retry": "1000"}


async def test_an_unknown_job_is_a_404_with_a_json_detail_before_any_stream(api: httpx.AsyncClient) -> None:
    response = await api.get("/jobs/no-such-job/events")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "no such job" in response.json()["detail"]


async def test_an_oversized_last_event_id_is_a_422_not_a_stream(
    api: httpx.AsyncClient, job_queue: JobQueue
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")

    response = await api.get(f"/jobs/{job.job_id}/events", headers={"Last-Event-ID": "x" * 10_000})

    assert response.status_code == 422
    assert "detail" in response.json()


async def test_a_reconnect_with_last_event_id_sends_nothing_the_client_already_has(
    http: httpx.AsyncClient, job_queue: JobQueue, worker_now: Callable[[], WorkerProcess]
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    async with http.stream("GET", f"/jobs/{job.job_id}/events") as response:
        queued = await anext(event async for event in read_events(response) if "data" in event)
    assert json.loads(queued["data"])["status"] == "queued"
    worker_now()

    events = await collect(http, job.job_id, **{"Last-Event-ID": queued["id"]})

    assert "queued" not in statuses(events)
    assert statuses(events)[-1] == "complete"


async def test_a_client_that_has_the_final_status_is_told_204_so_it_stops_reconnecting(
    http: httpx.AsyncClient, job_queue: JobQueue, worker_now: Callable[[], WorkerProcess]
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    worker_now()
    final = (await collect(http, job.job_id))[-1]

    response = await http.get(f"/jobs/{job.job_id}/events", headers={"Last-Event-ID": final["id"]})

    assert response.status_code == 204


@pytest.mark.latency
async def test_a_stream_ends_after_its_maximum_duration(
    watch_settings: Settings, tmp_path: Path, job_queue: JobQueue
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")  # no worker: never changes
    short = watch_settings.model_copy(update={"job_events_max_seconds": 1.0})
    with serve_api(short, tmp_path / "api.log") as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            started = time.monotonic()
            events = await collect(http, job.job_id)

    assert 0.9 <= time.monotonic() - started < 5
    assert statuses(events) == ["queued"]


async def test_open_streams_are_capped_per_process_and_a_closed_one_frees_its_place(
    watch_settings: Settings, tmp_path: Path, job_queue: JobQueue
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    one = watch_settings.model_copy(update={"job_events_max_streams": 1})
    with serve_api(one, tmp_path / "api.log") as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            async with http.stream("GET", f"/jobs/{job.job_id}/events") as first:
                events = read_events(first)  # kept: a collected reader would close the stream
                await anext(events)  # it is open
                refused = await http.get(f"/jobs/{job.job_id}/events")
                await events.aclose()
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json() == {"detail": "too many open event streams"}

            async def opens() -> bool:
                async with http.stream("GET", f"/jobs/{job.job_id}/events") as again:
                    return again.status_code == 200

            assert await wait_for(opens, timeout=5, what="the closed stream's place to free up")


async def test_the_long_poll_answers_as_soon_as_the_status_changes(
    api: httpx.AsyncClient, job_queue: JobQueue, worker_now: Callable[[], WorkerProcess]
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    poll = asyncio.create_task(api.get(f"/jobs/{job.job_id}", params={"wait": 30}))
    started = time.monotonic()
    worker_now()

    response = await poll

    assert response.status_code == 200
    assert response.json()["status"] != "queued"
    assert time.monotonic() - started < 20  # the worker's start, not the 30 s


@pytest.mark.latency
async def test_the_long_poll_answers_after_n_seconds_when_nothing_changes(
    api: httpx.AsyncClient, job_queue: JobQueue
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    started = time.monotonic()

    response = await api.get(f"/jobs/{job.job_id}", params={"wait": 0.5})

    assert 0.5 <= time.monotonic() - started < 3
    assert response.json()["status"] == "queued"


@pytest.mark.latency
async def test_the_long_poll_answers_a_finished_job_at_once(
    api: httpx.AsyncClient, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")
    await wait_for_status(api, job.job_id, {"complete"}, timeout=20)
    started = time.monotonic()

    response = await api.get(f"/jobs/{job.job_id}", params={"wait": 30})

    assert response.json()["status"] == "complete"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("wait", ["31", "-1", "soon"])
async def test_a_wait_out_of_range_is_a_422(api: httpx.AsyncClient, job_queue: JobQueue, wait: str) -> None:
    job = await job_queue.enqueue(long_task, owner=1, label="2026-01")

    response = await api.get(f"/jobs/{job.job_id}", params={"wait": wait})

    assert response.status_code == 422
    assert "detail" in response.json()


async def test_the_long_poll_of_an_unknown_job_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/jobs/no-such-job", params={"wait": 5})

    assert response.status_code == 404


@pytest.mark.latency
async def test_redis_going_away_mid_stream_sends_unavailable_and_ends_the_stream(
    watch_settings: Settings, tmp_path: Path
) -> None:
    with RedisServer() as own_redis:
        settings = watch_settings.model_copy(update={"redis_url": own_redis.url})
        queue = JobQueue.connect(settings, REGISTRY)
        job = await queue.enqueue(long_task, owner=1, label="2026-01")
        await queue.aclose()
        with serve_api(settings, tmp_path / "api.log") as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                async with http.stream("GET", f"/jobs/{job.job_id}/events") as response:
                    events = read_events(response)
                    assert "retry" in await anext(events)
                    assert "data" in await anext(events)
                    own_redis.stop()
                    rest = [event async for event in events]  # ends: no hang

                unavailable = {"event": "unavailable", "data": '{"detail": "the job queue is unavailable"}'}
                assert rest == [unavailable]
                started = time.monotonic()
                long_poll = await http.get(f"/jobs/{job.job_id}", params={"wait": 10})
                assert long_poll.status_code == 503
                assert time.monotonic() - started < 3
