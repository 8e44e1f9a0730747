"""A failover under load: the primary is SIGKILLed while the API accepts jobs and workers run them.

Real processes throughout: a primary, a replica and three sentinels (tests/support/sentinel.py), the
API under uvicorn and two arq workers, all given `REDIS_URL=redis+sentinel://...` and
`REDIS_MIN_REPLICAS=1`. The sentinels promote the replica; the killed node is started again as a
replica of the new primary, as a supervisor would (docs/deploying.md). Every job the API answered 202
must complete, the workers must survive, and the API must answer 202 again without a restart.
It prints its figures (accepted, lost, seconds from the SIGKILL to the first 202) even without -s:
.venv/bin/pytest tests/e2e/test_sentinel_failover.py -q
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from arqkit.redis_server import free_port
from tests.service.settings import Settings
from tests.support import BIN, WorkerProcess, http_service, settings_env, wait_for
from tests.support.sentinel import SentinelCluster

pytestmark = pytest.mark.timeout(180)

PRODUCERS = 3
PAUSE_BETWEEN_REQUESTS = 0.02  # per producer: about 100 requests/s in all on an idle machine
ACCEPTED_BEFORE_KILL = 50
ACCEPTED_AFTER_KILL = 50


@dataclass
class Ledger:
    """Every answer the producers got: (sent, answered, status) and the accepted job ids."""

    answers: list[tuple[float, float, int]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    killed_at: float = float("inf")

    def accepted_after_kill(self) -> list[float]:
        """When each 202 to a request sent after the SIGKILL arrived."""
        return [answered for sent, answered, code in self.answers if code == 202 and sent > self.killed_at]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    with SentinelCluster(tmp_path / "redis", replicas=1) as running:
        yield running


@pytest.fixture
def sentinel_settings(settings: Settings, cluster: SentinelCluster) -> Settings:
    """The suite's 3 s crash recovery, no longer than the switch (about 3 s here): claims lapse while
    their workers wait to write results, other workers claim those jobs, and the late finishes must be
    dropped, not delete the jobs under them (docs/arq-gaps.md, "A late finish clobbers the job's next
    run"). Production keeps 15 s against a 5 s down-after."""
    return cluster.settings(settings, redis_min_replicas=1)


@pytest.fixture
def workers(sentinel_settings: Settings, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started = [WorkerProcess(sentinel_settings, tmp_path / f"worker-{i}.log").start() for i in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
async def http(sentinel_settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    command = [str(BIN / "uvicorn"), "tests.service.app:app", "--port", str(port), "--no-access-log"]
    env = {**settings_env(sentinel_settings), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    with (
        (tmp_path / "api.log").open("ab") as log,
        http_service(command, port, env=env, log=log) as url,
    ):
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            yield client


async def _produce(http: httpx.AsyncClient, ledger: Ledger, producer: int, stop: asyncio.Event) -> None:
    """POST /notify until told to stop. A 503 is expected during the switch; anything else, or no answer
    within the client's 5 s, fails the test."""
    i = 0
    while not stop.is_set():
        i += 1
        sent = time.monotonic()
        response = await http.post("/notify", json={"email": f"p{producer}-{i}@example.com", "name": "Ada"})
        ledger.answers.append((sent, time.monotonic(), response.status_code))
        assert response.status_code in {202, 503}, response.text
        if response.status_code == 202:
            ledger.accepted.append(response.json()["job_id"])
        await asyncio.sleep(PAUSE_BETWEEN_REQUESTS)


async def _unfinished(http: httpx.AsyncClient, job_ids: list[str], timeout: float) -> dict[str, str]:
    """Job id -> last status, for the jobs not complete once `timeout` seconds have passed."""
    pending = {job_id: "unknown" for job_id in job_ids}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            status = (await http.get(f"/jobs/{job_id}")).json().get("status", "missing")
            if status == "complete":
                del pending[job_id]
            else:
                pending[job_id] = status
        await asyncio.sleep(0.2)
    return pending


async def test_sigkill_of_the_primary_loses_no_accepted_job(
    cluster: SentinelCluster,
    workers: list[WorkerProcess],
    http: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger, stop = Ledger(), asyncio.Event()
    producers = [asyncio.create_task(_produce(http, ledger, n, stop)) for n in range(PRODUCERS)]
    first = await wait_for(lambda: _first(ledger.accepted), timeout=30, what="a first 202")
    await wait_for(lambda: _complete(http, first), timeout=30, what="a worker to run a job")
    await wait_for(lambda: _at_least(len(ledger.accepted), ACCEPTED_BEFORE_KILL), 30, what="load")

    old_primary = cluster.primary_port()
    assert old_primary is not None
    ledger.killed_at = time.monotonic()
    cluster.node(old_primary).kill()
    new_primary = await wait_for(
        lambda: asyncio.to_thread(_promoted, cluster, old_primary), timeout=30, what="a promotion"
    )
    promoted_after = time.monotonic() - ledger.killed_at
    await asyncio.to_thread(cluster.restart_as_replica, cluster.node(old_primary), new_primary)
    await wait_for(
        lambda: _at_least(len(ledger.accepted_after_kill()), ACCEPTED_AFTER_KILL), 60, what="202s again"
    )
    stop.set()
    await asyncio.gather(*producers)

    unfinished = await _unfinished(http, ledger.accepted, timeout=60)
    codes = Counter(code for _, _, code in ledger.answers)
    refusals = [answered - sent for sent, answered, code in ledger.answers if code == 503]
    with capsys.disabled():  # the figures, even without -s
        print(
            f"\nsentinel failover: accepted={len(ledger.accepted)} lost={len(unfinished)} "
            f"promoted_after={promoted_after:.2f}s "
            f"failover_seconds={min(ledger.accepted_after_kill()) - ledger.killed_at:.2f} "
            f"(SIGKILL to the first 202) answers={dict(codes)} "
            f"slowest_503={max(refusals, default=0):.2f}s"
        )
    assert unfinished == {}, f"accepted but never complete: {unfinished}"
    assert all(worker.process is not None and worker.process.poll() is None for worker in workers)


async def _first(accepted: list[str]) -> str | None:
    return accepted[0] if accepted else None


async def _complete(http: httpx.AsyncClient, job_id: str) -> bool:
    return bool((await http.get(f"/jobs/{job_id}")).json().get("status") == "complete")


async def _at_least(count: int, wanted: int) -> bool:
    return count >= wanted


def _promoted(cluster: SentinelCluster, old_primary: int) -> int | None:
    port = cluster.primary_port()
    return port if port not in {None, old_primary} else None
