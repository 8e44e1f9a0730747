"""Flows on real worker processes: a chain runs in order, a group at once, a callback after all of its
group; a failure applies the flow's policy; a step that runs twice counts once; a flow survives a killed
worker, a cancel, and the replay of its failed step; `GET /jobs/{flow id}` shows every step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit import JobArgumentsInvalid, JobNotRegistered, JobQueue, Registry, flows, keys
from arqkit.flows import chain, group, step
from tests.service import keys as app_keys
from tests.service.jobs import record_step, report_failures, starts_a_flow
from tests.service.registry import REGISTRY
from tests.service.settings import Settings
from tests.support import PROCESS_START_SECONDS, WorkerProcess, wait_for, wait_for_status
from tests.test_cli import cli

ADMIN = {"Authorization": "Bearer test-admin-token"}
FINAL = {"complete", "failed", "aborted"}


async def logged(redis_client: redis.asyncio.Redis, label: str) -> list[str]:
    raw: list[bytes] = await redis_client.lrange(app_keys.flow_log(label), 0, -1)  # type: ignore[misc]
    return [one.decode() for one in raw]


async def flow_of(api: httpx.AsyncClient, flow_id: str) -> dict[str, Any]:
    response = await api.get(f"/jobs/{flow_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def steps_reach(api: httpx.AsyncClient, flow_id: str, statuses: list[str]) -> dict[str, Any]:
    seen: list[list[str]] = [[]]

    async def probe() -> dict[str, Any] | None:
        body = await flow_of(api, flow_id)
        seen[0] = [one["status"] for one in body["steps"]]
        return body if seen[0] == statuses else None

    try:
        return await wait_for(probe, timeout=20, what=f"steps of {flow_id} to be {statuses}")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; they were {seen[0]}") from None


async def test_a_chain_runs_its_steps_one_after_another(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    flow = chain(*(step(record_step, "chain", name, seconds=0.05) for name in ("a", "b", "c")))

    started = await job_queue.enqueue_flow(flow)

    body = await wait_for_status(api, started.job_id, FINAL, timeout=20)
    assert body["status"] == "complete"
    assert await logged(redis_client, "chain") == ["a", "b", "c"]
    assert [one["status"] for one in body["steps"]] == ["complete"] * 3
    assert body["enqueued_at"] <= body["started_at"] <= body["finished_at"]


async def test_a_job_can_start_a_flow(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    parent = await job_queue.enqueue(starts_a_flow, "from-a-job")
    flow_id = (await wait_for_status(api, parent.job_id, FINAL, timeout=20))["result"]

    assert (await wait_for_status(api, flow_id, FINAL, timeout=20))["status"] == "complete"
    assert await logged(redis_client, "from-a-job") == ["first", "second"]


async def test_a_job_cannot_start_a_flow_of_an_unregistered_job(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    """As `JobQueue.enqueue_flow`: the start refuses it before anything is written, so no step runs."""
    parent = await job_queue.enqueue(starts_a_flow, "unregistered", unregistered=True)

    body = await wait_for_status(api, parent.job_id, FINAL, timeout=20)

    assert body["status"] == "failed"
    assert body["error"]["type"] == "JobNotRegistered"
    assert not [key async for key in redis_client.scan_iter(match=keys.flow("*"))]
    assert await logged(redis_client, "unregistered") == []


async def test_a_groups_steps_run_at_the_same_time(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    started = await job_queue.enqueue_flow(
        group(*(step(record_step, "group", name, gated=True) for name in ("a", "b", "c")))
    )

    await steps_reach(api, started.job_id, ["in_progress"] * 3)  # all three wait on the gate together
    await redis_client.set(app_keys.flow_gate("group"), 1)

    assert (await wait_for_status(api, started.job_id, FINAL, timeout=20))["status"] == "complete"
    assert sorted(await logged(redis_client, "group")) == ["a", "b", "c"]


async def test_a_callback_runs_once_every_step_of_its_group_succeeded(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    slow = step(record_step, "callback", "slow", gated=True)
    flow = group(slow, step(record_step, "callback", "b"), step(record_step, "callback", "c")).then(
        step(record_step, "callback", "done")
    )
    started = await job_queue.enqueue_flow(flow)

    body = await steps_reach(api, started.job_id, ["in_progress", "complete", "complete", "waiting"])
    assert body["status"] == "in_progress"
    assert body["started_at"] is not None
    await redis_client.set(app_keys.flow_gate("callback"), 1)

    assert (await wait_for_status(api, started.job_id, FINAL, timeout=20))["status"] == "complete"
    assert (await logged(redis_client, "callback"))[-1] == "done"
    assert (await logged(redis_client, "callback")).count("done") == 1


async def test_a_failed_step_fails_the_flow_and_cancels_the_steps_after_it(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    a, b = step(record_step, "fail", "a"), step(record_step, "fail", "b", fails=True)
    flow = chain(a, b, step(record_step, "fail", "c"))
    started = await job_queue.enqueue_flow(flow)

    body = await wait_for_status(api, started.job_id, FINAL, timeout=20)

    assert body["status"] == "failed"
    assert [one["status"] for one in body["steps"]] == ["complete", "failed", "cancelled"]
    assert body["error"] == {"type": "PermanentError", "message": "b failed"}
    assert await logged(redis_client, "fail") == ["a"]
    letters = (await api.get("/admin/dead-letters", headers=ADMIN)).json()["items"]
    assert [letter["job_id"] for letter in letters] == [body["steps"][1]["job_id"]]


async def test_run_callback_runs_the_callback_with_the_failures(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    flow = group(step(record_step, "policy", "a"), step(record_step, "policy", "b", fails=True)).then(
        step(report_failures, "policy"), on_failure="run_callback"
    )
    started = await job_queue.enqueue_flow(flow)

    body = await wait_for_status(api, started.job_id, FINAL, timeout=20)

    assert [one["status"] for one in body["steps"]] == ["complete", "failed", "complete"]
    assert body["status"] == "complete"  # the callback handled the failure
    assert await logged(redis_client, "policy") == ["a", "callback", "record_step:b failed"]


async def test_a_step_that_runs_twice_is_counted_once(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    """At least once: `a` is delivered again after it succeeded. A flow counting ends would take its second
    end for `b`'s and start the callback while `b` still runs."""
    flow = group(step(record_step, "twice-a", "a", gated=True), step(record_step, "twice-b", "b", gated=True))
    started = await job_queue.enqueue_flow(flow.then(step(record_step, "twice-c", "c")))
    body = await steps_reach(api, started.job_id, ["in_progress", "in_progress", "waiting"])
    a_id = body["steps"][0]["job_id"]
    payload = await redis_client.get(keys.job(a_id))
    await redis_client.set(app_keys.flow_gate("twice-a"), 1)
    await steps_reach(api, started.job_id, ["complete", "in_progress", "waiting"])

    await redis_client.delete(keys.result(a_id))  # as if its finish had been lost: it runs again
    await redis_client.set(keys.job(a_id), payload)
    await redis_client.zadd(keys.ARQ_DEFAULT_QUEUE, {a_id: int(time.time() * 1000)})
    await wait_for(lambda: redis_client.exists(keys.result(a_id)), timeout=20, what="a's second run")

    assert await logged(redis_client, "twice-a") == ["a", "a"]
    assert (await flow_of(api, started.job_id))["steps"][2]["status"] == "waiting"
    await redis_client.set(app_keys.flow_gate("twice-b"), 1)
    assert (await wait_for_status(api, started.job_id, FINAL, timeout=20))["status"] == "complete"
    assert await logged(redis_client, "twice-c") == ["c"]


async def test_cancelling_a_flow_aborts_its_running_step_and_cancels_the_rest(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    flow = chain(step(record_step, "cancel", "a", gated=True), step(record_step, "cancel", "b"))
    started = await job_queue.enqueue_flow(flow)
    await steps_reach(api, started.job_id, ["in_progress", "waiting"])

    assert (await api.delete(f"/jobs/{started.job_id}")).status_code == 202

    body = await steps_reach(api, started.job_id, ["aborted", "cancelled"])
    assert body["status"] == "aborted"
    assert (await api.delete(f"/jobs/{started.job_id}")).status_code == 409
    await redis_client.set(app_keys.flow_gate("cancel"), 1)
    assert await logged(redis_client, "cancel") == []


async def test_aborting_a_queued_step_ends_it_for_its_flow(
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
) -> None:
    flow = group(step(record_step, "abort", "a"), step(record_step, "abort", "b"))
    started = await job_queue.enqueue_flow(
        flow.then(step(report_failures, "abort"), on_failure="run_callback")
    )
    a_id = (await flow_of(api, started.job_id))["steps"][0]["job_id"]

    assert (await api.delete(f"/jobs/{a_id}")).status_code == 202  # still queued: no worker yet
    start_worker()

    body = await wait_for_status(api, started.job_id, FINAL, timeout=PROCESS_START_SECONDS)
    assert [one["status"] for one in body["steps"]] == ["aborted", "complete", "complete"]
    assert await logged(redis_client, "abort") == ["b", "callback", "record_step:aborted"]


async def test_replaying_a_failed_steps_dead_letter_resumes_the_flow(
    job_queue: JobQueue, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    flow = chain(step(record_step, "replay", "a", fails=True), step(record_step, "replay", "b"))
    started = await job_queue.enqueue_flow(flow)
    failed = await wait_for_status(api, started.job_id, FINAL, timeout=20)
    assert failed["status"] == "failed"
    await redis_client.set(app_keys.flow_fixed("replay"), 1)  # the operator fixes the cause

    replay = await api.post(f"/admin/dead-letters/{failed['steps'][0]['job_id']}/replay", headers=ADMIN)

    assert replay.status_code == 202
    body = await wait_for_status(api, started.job_id, {"complete"}, timeout=20)
    assert body["steps"][0]["job_id"] == replay.json()["job_id"]
    assert await logged(redis_client, "replay") == ["a", "b"]


async def test_a_step_that_expired_before_it_ran_fails_its_flow(
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
) -> None:
    """arq stores no function or arguments with "job expired": the step's link names its flow."""
    flow = chain(step(record_step, "expired", "a"), step(record_step, "expired", "b"))
    started = await job_queue.enqueue_flow(flow)
    a_id = (await flow_of(api, started.job_id))["steps"][0]["job_id"]
    await redis_client.delete(keys.job(a_id))  # its job key expired unrun: only its queue entry is left
    start_worker()

    body = await wait_for_status(api, started.job_id, FINAL, timeout=PROCESS_START_SECONDS)

    assert [one["status"] for one in body["steps"]] == ["failed", "cancelled"]
    assert body["status"] == "failed"
    assert body["error"] == {"type": "JobExecutionFailed", "message": "job expired"}
    assert body["finished_at"] is not None
    assert await logged(redis_client, "expired") == []


async def test_an_expired_step_runs_the_callback_under_run_callback(
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
) -> None:
    flow = group(step(record_step, "expired-cb", "a"), step(record_step, "expired-cb", "b"))
    started = await job_queue.enqueue_flow(
        flow.then(step(report_failures, "expired-cb"), on_failure="run_callback")
    )
    a_id = (await flow_of(api, started.job_id))["steps"][0]["job_id"]
    await redis_client.delete(keys.job(a_id))
    start_worker()

    body = await wait_for_status(api, started.job_id, FINAL, timeout=PROCESS_START_SECONDS)

    assert [one["status"] for one in body["steps"]] == ["failed", "complete", "complete"]
    assert await logged(redis_client, "expired-cb") == ["b", "callback", "record_step:job expired"]


async def test_a_flow_longer_than_its_keep_time_keeps_its_steps_links(
    settings: Settings, worker: WorkerProcess, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    """Links written at the start with FLOW_KEEP_SECONDS (2 s here) are renewed at each step's end: the
    last step fails after more than 2 s, and the replay of its dead letter still resumes the flow."""
    queue = JobQueue.connect(settings.model_copy(update={"flow_keep_seconds": 2}), REGISTRY)
    parts = [step(record_step, "long", name, seconds=0.8) for name in ("a", "b", "c")]
    try:
        started = await queue.enqueue_flow(chain(*parts, step(record_step, "long", "d", fails=True)))
    finally:
        await queue.aclose()
    began = time.monotonic()
    failed = await wait_for_status(api, started.job_id, FINAL, timeout=20)
    assert time.monotonic() - began > 2  # the links written at the start would have expired
    d_id = failed["steps"][3]["job_id"]
    assert await redis_client.exists(keys.flow_step(d_id))
    await redis_client.set(app_keys.flow_fixed("long"), 1)

    replay = await api.post(f"/admin/dead-letters/{d_id}/replay", headers=ADMIN)

    assert replay.status_code == 202
    body = await wait_for_status(api, started.job_id, {"complete"}, timeout=20)
    assert await logged(redis_client, "long") == ["a", "b", "c", "d"]
    assert body["steps"][3]["job_id"] == replay.json()["job_id"]


async def test_a_group_of_fifty_steps_reads_correctly(
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
) -> None:
    """Every begun step's status is read in one pipeline (`flow_status.py`): each answer is its own step's."""
    names = [f"s{number}" for number in range(50)]
    parts = [step(record_step, "fifty", name, fails=name == "s7") for name in names]
    started = await job_queue.enqueue_flow(chain(group(*parts), on_failure="run_callback"))  # all run
    queued = await flow_of(api, started.job_id)
    assert [one["status"] for one in queued["steps"]] == ["queued"] * 50
    start_worker()

    body = await wait_for_status(api, started.job_id, FINAL, timeout=PROCESS_START_SECONDS)

    statuses = [one["status"] for one in body["steps"]]
    assert statuses == ["complete"] * 7 + ["failed"] + ["complete"] * 42
    assert [one["error"] for one in body["steps"]][6:9] == [
        None,
        {"type": "PermanentError", "message": "s7 failed"},
        None,
    ]
    assert [one["job_id"] for one in body["steps"]] == [one["job_id"] for one in queued["steps"]]
    assert body["status"] == "failed"
    assert body["progress"] == 49 / 50
    assert sorted(await logged(redis_client, "fifty")) == sorted(set(names) - {"s7"})


async def test_get_of_a_flow_shows_the_flow_and_each_step(
    job_queue: JobQueue, api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    second = group(step(record_step, "shape", "b"), step(report_failures, "shape"))
    flow = chain(step(record_step, "shape", "a"), second)

    started = await job_queue.enqueue_flow(flow)  # no worker: the first stage waits

    body = await flow_of(api, started.job_id)
    assert started.job_id.startswith("flow-")
    assert len(started.job_id) == len("flow-") + 32
    assert {"job_id", "function", "status", "steps", "on_failure", "progress", "enqueued_at"} <= set(body)
    assert (body["function"], body["status"], body["on_failure"]) == ("flow", "queued", "fail_flow")
    assert body["started_at"] is None  # no step has begun
    assert [(one["function"], one["stage"], one["status"]) for one in body["steps"]] == [
        ("record_step", 1, "queued"),
        ("record_step", 2, "waiting"),
        ("report_failures", 2, "waiting"),
    ]
    assert (await api.get(f"/jobs/{body['steps'][0]['job_id']}")).json()["status"] == "queued"
    assert (await api.get("/jobs/flow-" + "0" * 32)).status_code == 404


async def test_a_flow_record_we_did_not_write_is_a_404_not_a_500(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis
) -> None:
    for spec in (b"not json", b'{"stages": 3}', b'{"stages": [[1]]}', b'{"stages": "ab"}'):
        await redis_client.hset(keys.flow("flow-bad"), mapping={"spec": spec})  # type: ignore[misc]

        assert (await api.get("/jobs/flow-bad")).status_code == 404
        assert (await api.delete("/jobs/flow-bad")).status_code == 404


async def test_a_flow_id_given_twice_starts_one_flow(
    job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    flow = chain(step(record_step, "once", "a"))

    first = await job_queue.with_options(job_id="order-1").enqueue_flow(flow)
    second = await job_queue.with_options(job_id="order-1").enqueue_flow(flow)

    assert (first.job_id, first.created, second.created) == ("flow-order-1", True, False)
    assert await redis_client.zcard(keys.ARQ_DEFAULT_QUEUE) == 1


async def test_a_step_runs_on_its_jobs_queue_or_the_priority_it_is_given(
    job_queue: JobQueue, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    flow = group(step(record_step, "queues", "a"), step(record_step, "queues", "b").at("critical"))

    await job_queue.enqueue_flow(flow)

    assert await redis_client.zcard(settings.queue_name) == 1
    assert await redis_client.zcard(keys.priority_queue(settings.queue_name, "critical")) == 1


async def test_a_flow_of_an_unregistered_job_is_refused_before_anything_is_written(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    queue = JobQueue.connect(settings, Registry([record_step]))
    try:
        with pytest.raises(JobNotRegistered):
            await queue.enqueue_flow(chain(step(record_step, "x", "a"), step(report_failures, "x")))
    finally:
        await queue.aclose()

    assert await redis_client.dbsize() == 0


async def test_every_flow_completes_when_a_worker_is_killed_in_the_middle(
    job_queue: JobQueue,
    start_worker: Callable[..., WorkerProcess],
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
) -> None:
    started = []
    for number in range(20):
        label = f"kill-{number}"
        parts = [step(record_step, label, name, seconds=0.2) for name in ("a", "b", "c")]
        started.append(await job_queue.enqueue_flow(chain(parts[0], group(parts[1], parts[2]))))
    doomed = start_worker()
    underway = lambda: logged(redis_client, "kill-0")  # noqa: E731
    await wait_for(underway, timeout=PROCESS_START_SECONDS, what="flows underway")

    doomed.kill()  # SIGKILL: the steps it was running run again once their claims lapse

    assert (await flow_of(api, started[-1].job_id))["status"] != "complete"  # the kill was in the middle
    start_worker()
    for flow in started:
        assert (await wait_for_status(api, flow.job_id, FINAL, timeout=60))["status"] == "complete"
    for number in range(20):
        ran = await logged(redis_client, f"kill-{number}")
        assert ran[0] == "a", ran
        assert set(ran) == {"a", "b", "c"}, ran


async def test_the_cli_and_the_admin_job_view_show_a_flows_steps(
    job_queue: JobQueue, api: httpx.AsyncClient, settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    started = await job_queue.enqueue_flow(chain(step(record_step, "cli", "a"), step(report_failures, "cli")))

    admin = (await api.get(f"/admin/jobs/{started.job_id}", headers=ADMIN)).json()
    text = cli(settings, "job", started.job_id).out

    assert [one["function"] for one in admin["status"]["steps"]] == ["record_step", "report_failures"]
    rows = [line.split() for line in text.splitlines() if line.startswith("  ")]
    assert [row[:3] for row in rows] == [["1", "record_step", "queued"], ["2", "report_failures", "waiting"]]


def test_steps_arguments_are_checked_when_the_flow_is_declared() -> None:
    with pytest.raises(JobArgumentsInvalid):
        step(record_step, "x", 3)  # type: ignore[arg-type]
    assert flows.is_flow_id("flow-" + "a" * 32)
