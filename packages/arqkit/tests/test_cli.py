"""`python -m jobs <command>`, run as an operator runs it: a child process with the service's environment,
against the suite's real Redis and, where a job has to run, a real worker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit import JobNotFound, JobQueue, QueueAdmin, dead_letters
from arqkit.dead_letters import DeadLetter
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import ROOT, WorkerProcess, settings_env, wait_for
from tests.support.workers import sleeps_on_its_only_try


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


def cli(settings: Settings, *args: str, stdin: str | None = None) -> Ran:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tests.service", *args],
        cwd=ROOT,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=30,
        input=stdin,
    )
    return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


async def _dead_letter(settings: Settings, job_queue: JobQueue, function: str = "missing_function") -> str:
    """A job that fails at once (no such function) and is dead-lettered by the running worker."""
    job = await job_queue.enqueue_named(function, [], {}, settings.queue_name)

    async def failed() -> bool:
        return (await job_queue.status(job.job_id)).status == "failed"

    await wait_for(failed, timeout=15, what=f"{job.job_id} to fail")
    return job.job_id


async def test_queues_prints_every_queue_as_an_aligned_table_with_its_paused_state(
    settings: Settings, job_queue: JobQueue
) -> None:
    for address in ("a@example.com", "b@example.com"):
        await job_queue.enqueue(notify, email=address, name="Ada")
    assert cli(settings, "pause", "bulk").code == 0

    ran = cli(settings, "queues")

    assert ran.code == 0, ran.err
    header, *rows = ran.out.splitlines()
    assert header.split()[:2] == ["queue", "queued"]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert by_name.keys() == {"critical", "default", "bulk"}
    assert by_name["default"][1] == "2"
    assert "yes" in by_name["bulk"]
    assert "yes" not in by_name["default"]
    key_column = header.index("redis key")  # aligned: the last column starts at the same place on every line
    assert {row.index(settings.queue_name) for row in rows} == {key_column}


async def test_queues_as_json_has_each_queues_counts(settings: Settings, job_queue: JobQueue) -> None:
    await job_queue.enqueue(notify, email="a@example.com", name="Ada")

    queues = {q["priority"]: q for q in cli(settings, "queues", "--json").json()}

    assert queues["default"]["queued"] == 1
    assert queues["default"]["name"] == "default"  # one name per queue; its Redis key is `key`
    assert queues["default"]["key"] == settings.queue_name
    assert set(queues["default"]) >= {"queued", "deferred", "in_progress", "dead", "workers_alive", "paused"}


async def test_dead_letters_lists_the_newest_first(
    settings: Settings, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    first = await _dead_letter(settings, job_queue, "missing_function")
    second = await _dead_letter(settings, job_queue, "another_missing_function")

    listed = cli(settings, "dead-letters", "--json").json()
    table = cli(settings, "dead-letters", "--limit", "1")

    assert [item["job_id"] for item in listed["items"]] == [second, first]
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:3] == ["job", "id", "function"]
    assert second in table.out
    assert first not in table.out


async def test_replay_runs_a_dead_letter_again_on_the_worker(
    settings: Settings, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    failed = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")
    await wait_for(lambda: _status_is(job_queue, failed.job_id, "failed"), what="the dead letter")

    replayed = cli(settings, "replay", failed.job_id, "--operator", "grace", "--json").json()

    assert replayed["replay_of"] == failed.job_id
    await wait_for(lambda: _status_is(job_queue, replayed["job_id"], "complete"), what="the replay")
    audit = cli(settings, "job", failed.job_id, "--json").json()["replay"]  # the letter's history
    assert (audit["job_id"], audit["operator"], audit["via"], audit["edited"]) == (
        replayed["job_id"],
        "grace",
        "cli",
        False,
    )


async def test_replay_with_set_shows_the_diff_asks_and_runs_the_corrected_job(
    settings: Settings, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 100, "to": "ada@exampel.com"})
    failed = await job_queue.enqueue(notify, email="ada@exampel.com", name="Ada")
    await wait_for(lambda: _status_is(job_queue, failed.job_id, "failed"), what="the dead letter")

    declined = cli(settings, "replay", failed.job_id, "--set", "email=ada@example.com", stdin="n\n")
    ran = cli(
        settings,
        "replay",
        failed.job_id,
        "--set",
        "email=ada@example.com",
        "--operator",
        "grace",
        stdin="y\n",
    )

    assert declined.code == 1
    assert "email: ada@exampel.com -> ada@example.com" in declined.err  # the diff, before the question
    assert declined.err.rstrip().endswith(f"error: not replayed: {failed.job_id} stays a dead letter")
    assert ran.code == 0, ran.err
    assert "email: ada@exampel.com -> ada@example.com" in ran.err
    assert "replay with these arguments? [y/N]" in ran.err
    new_id = ran.out.split(" as ")[1].split()[0]
    assert "with edited arguments: email" in ran.out
    await wait_for(lambda: _status_is(job_queue, new_id, "complete"), what="the corrected job")
    assert [d["to"] for d in (await sink.get("/_control/deliveries")).json()] == ["ada@example.com"]
    audit = cli(settings, "job", new_id, "--json").json()["replayed_from"]
    assert (audit["operator"], audit["via"], audit["after"]["email"]) == ("grace", "cli", "ada@example.com")


async def test_replay_dry_run_prints_the_diff_and_replays_nothing(
    settings: Settings, job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    letter = await _recorded_letter(redis_client, settings)

    ran = cli(settings, "replay", letter, "--set", "name=Grace", "--dry-run", "--json")

    assert ran.json()["changes"] == [
        {"field": "name", "change": "changed", "before": "Ada", "after": "Grace"}
    ]
    assert [d.job_id for d in (await QueueAdmin(job_queue).dead_letters(10, None)).items] == [letter]
    assert await redis_client.zcard(settings.queue_name) == 0


async def test_replay_with_a_wrong_argument_exits_1_naming_it_and_replays_nothing(
    settings: Settings, job_queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    letter = await _recorded_letter(redis_client, settings)

    wrong_type = cli(settings, "replay", letter, "--set", "name=42", "--yes")  # JSON 42: an int
    unknown = cli(settings, "replay", letter, "--set", "nmae=Grace", "--yes")
    quoted = cli(settings, "replay", letter, "--set", 'name="42"', "--dry-run")  # a string

    assert (wrong_type.code, unknown.code) == (1, 1)
    assert wrong_type.err.startswith("error: invalid arguments, nothing replayed: notify: name: ")
    assert "nmae" in unknown.err
    assert unknown.err.count("\n") == 1
    assert quoted.code == 0
    assert "name: Ada -> 42" in quoted.out
    assert await redis_client.zcard(settings.queue_name) == 0


async def test_replay_with_edits_needs_one_job_id_and_a_dry_run_needs_an_edit(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    letter = await _recorded_letter(redis_client, settings)

    window = cli(settings, "replay", "--since", "60", "--set", "name=Grace")
    dry_run = cli(settings, "replay", letter, "--dry-run")

    assert (window.code, dry_run.code) == (2, 2)
    assert "JOB_ID" in window.err
    assert "--set" in dry_run.err
    assert await redis_client.zcard(settings.queue_name) == 0  # not replayed for real


async def _recorded_letter(redis_client: redis.asyncio.Redis, settings: Settings) -> str:
    await dead_letters.record(
        redis_client,
        DeadLetter(
            job_id="dead-cli",
            function="notify",
            queue=settings.queue_name,
            args=[],
            keyword_args={"email": "ada@example.com", "name": "Ada"},
            error={"type": "HTTPStatusError", "message": "HTTP 400"},
            tries=1,
            enqueued_at_ms=None,
            failed_at_ms=int(time.time() * 1000),
        ),
        1000,
    )
    return "dead-cli"


async def test_replay_since_replays_every_dead_letter_of_the_window(
    settings: Settings, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    letters = {await _dead_letter(settings, job_queue) for _ in range(2)}

    replayed = cli(settings, "replay", "--since", "3600", "--json").json()

    assert replayed["count"] == 2
    assert not letters & set(replayed["job_ids"])  # new jobs, new ids
    listed = {item["job_id"] for item in cli(settings, "dead-letters", "--json").json()["items"]}
    assert not letters & listed  # the replayed letters left the set (their replays may fail again)


async def test_discard_drops_a_dead_letter_for_good(
    settings: Settings, job_queue: JobQueue, worker: WorkerProcess
) -> None:
    letter = await _dead_letter(settings, job_queue)

    ran = cli(settings, "discard", letter)

    assert ran.code == 0, ran.err
    assert cli(settings, "dead-letters", "--json").json()["items"] == []
    again = cli(settings, "discard", letter)
    assert again.code == 1
    assert again.err == f"error: no such dead letter: {letter}\n"


async def test_purge_drops_the_waiting_jobs_and_leaves_the_running_one(
    settings: Settings, job_queue: JobQueue, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("tests.support.workers.WithTestJobs")
    running = await job_queue.enqueue(sleeps_on_its_only_try, seconds=8)  # outlasts two CLI runs under load
    await wait_for(lambda: _status_is(job_queue, running.job_id, "in_progress"), timeout=20, what="start")
    await QueueAdmin(job_queue).pause("default")  # so the worker starts none of the next ones
    waiting = [(await job_queue.enqueue(sleeps_on_its_only_try, seconds=8)).job_id for _ in range(3)]

    purged = cli(settings, "purge", "default", "--yes", "--json").json()

    assert purged == {"queue": "default", "purged": 3}
    for job_id in waiting:
        with pytest.raises(JobNotFound):
            await job_queue.status(job_id)
    assert (await job_queue.status(running.job_id)).status == "in_progress"
    await wait_for(
        lambda: _status_is(job_queue, running.job_id, "complete"), timeout=20, what="the running job to end"
    )


async def test_purge_without_yes_is_refused_and_drops_nothing(
    settings: Settings, job_queue: JobQueue
) -> None:
    job = await job_queue.enqueue(notify, email="a@example.com", name="Ada")

    ran = cli(settings, "purge", "default")

    assert ran.code == 2
    assert "--yes" in ran.err
    assert (await job_queue.status(job.job_id)).status == "queued"


async def test_job_shows_the_status_each_failed_try_and_the_dead_letter(
    settings: Settings, job_queue: JobQueue, sink: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    await sink.post("/_control/fail", json={"status": 400, "times": 1})
    failed = await job_queue.enqueue(notify, email="ada@example.com", name="Ada")

    async def recorded() -> bool:  # the try's traceback is written with the worker's next metrics flush
        detail = await QueueAdmin(job_queue).job_detail(failed.job_id)
        return detail.dead_letter is not None and bool(detail.failed_tries)

    await wait_for(recorded, what="the dead letter and its failed try")

    detail = cli(settings, "job", failed.job_id, "--json").json()
    text = cli(settings, "job", failed.job_id).out

    assert detail["status"]["status"] == "failed"
    assert detail["dead_letter"]["job_id"] == failed.job_id
    assert detail["failed_tries"][0]["traceback"]
    assert text.splitlines()[0].split() == ["job_id", failed.job_id]
    assert "try 1: HTTPStatusError" in text
    assert "Traceback (most recent call last)" in text
    assert f"python -m tests.service replay {failed.job_id}" in text


async def test_job_of_an_unknown_id_exits_1_with_a_one_line_reason(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    ran = cli(settings, "job", "no-such-job")

    assert (ran.code, ran.out) == (1, "")
    assert ran.err.count("\n") == 1
    assert ran.err.startswith("error: no such job: no-such-job")


async def test_an_unknown_queue_is_a_usage_error(settings: Settings) -> None:
    ran = cli(settings, "pause", "urgent")

    assert ran.code == 2
    assert "invalid choice: 'urgent'" in ran.err


async def test_an_invalid_setting_exits_1_naming_it(settings: Settings) -> None:
    env = {**settings_env(settings), "REDIS_URL": "http://127.0.0.1:6379"}

    done = subprocess.run(
        [sys.executable, "-m", "tests.service", "queues"], cwd=ROOT, env=env, capture_output=True
    )

    assert done.returncode == 1
    assert done.stderr.decode().startswith("error: invalid setting REDIS_URL: ")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never answers a command."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.latency
@pytest.mark.parametrize("server", ["refusing", "silent"])
async def test_an_unreachable_redis_fails_within_about_two_seconds_with_one_line(
    settings: Settings, server: str, request: pytest.FixtureRequest
) -> None:
    """Beyond interpreter start and imports, one short timeout (`REDIS_SOCKET_TIMEOUT_SECONDS`, 1 s by
    default): the CLI never retries. Start and imports are timed by `--help`, just before, since they
    alone take from under one second to several on a loaded machine."""
    port = request.getfixturevalue("silent_port") if server == "silent" else _closed_port()
    away = settings.model_copy(update={"redis_url": f"redis://user:secret@127.0.0.1:{port}/0"})
    start_and_imports = cli(away, "--help").seconds

    ran = cli(away, "queues")

    assert ran.code == 1
    assert ran.err.startswith(f"error: Redis at redis://127.0.0.1:{port}/0 is unreachable")
    assert ran.err.count("\n") == 1
    assert "secret" not in ran.err
    assert ran.seconds - start_and_imports < 2.0  # one 1 s timeout, with room for a busy machine


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when this returns: connections are refused


async def _status_is(job_queue: JobQueue, job_id: str, status: str) -> bool:
    return (await job_queue.status(job_id)).status == status
