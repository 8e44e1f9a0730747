"""The chaos suite: no 202-accepted job is lost while workers are SIGKILLed, rolled and Redis restarts.

Real processes throughout: a redis-server with AOF, the API under uvicorn, two arq workers, the mail
sink. Over 1,000 jobs go through the HTTP API while the chaos runs; then every accepted job must be
complete, or dead-lettered as designed (the sink rejected it with a 400).
Run alone with: python3 scripts/test.py tests/e2e/test_chaos.py -s
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio

from arqkit import keys
from arqkit.redis_server import RedisServer, free_port
from tests.service import keys as app_keys
from tests.service.settings import Settings
from tests.support import BIN, WorkerProcess, http_service, settings_env, wait_for

pytestmark = pytest.mark.timeout(600)

NOTIFYS = 900
FLAKY_EVERY = 15  # every 15th address: the sink answers 500 twice, then accepts
REJECTED_EVERY = 45  # every 45th address: the sink answers 400 (permanent: dead letter by design)
# A rejection lasts: a worker killed after the sink said 400 but before the failure was recorded runs
# the job again (at least once), and that try must meet the same 400, as it would at a real provider.
REJECTIONS = 100
PAYMENTS = 80
REPEATED_KEYS = 20  # charges sent twice with the same Idempotency-Key
REPORTS = 40
SEND_RATE_PER_SECOND = 30.0
REDIS_DOWN_SECONDS = 2.0


@dataclass
class Ledger:
    """What the load generator sent and what the API answered."""

    accepted: dict[str, str] = field(default_factory=dict)  # job id -> kind
    emails: dict[str, str] = field(default_factory=dict)  # job id -> address
    payments: dict[str, str] = field(default_factory=dict)  # job id -> payment id
    refused: Counter[int] = field(default_factory=Counter)  # status -> count (503 during the outage)


@dataclass
class Chaos:
    kills: list[float] = field(default_factory=list)  # recovery seconds per SIGKILL
    interrupted: set[str] = field(default_factory=set)  # jobs in progress when a worker or Redis died
    events: list[str] = field(default_factory=list)


@pytest.fixture
def chaos_redis() -> Iterator[RedisServer]:
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
def chaos_settings(settings: Settings, chaos_redis: RedisServer) -> Settings:
    """Crash recovery stays well above the Redis outage: a claim must outlive the outage and the
    reconnect after it, or a running job's claim expires and it starts again elsewhere."""
    return settings.model_copy(
        update={"redis_url": chaos_redis.url, "long_steps": 10, "crash_recovery_seconds": 6}
    )


@pytest.fixture
async def http(chaos_settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API under uvicorn, a real process."""
    port = free_port()
    command = [str(BIN / "uvicorn"), "tests.service.app:app", "--port", str(port), "--no-access-log"]
    env = {**settings_env(chaos_settings), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    with (
        (tmp_path / "api.log").open("ab") as log,
        http_service(command, port, env=env, log=log) as url,
    ):
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            yield client


def _address(i: int) -> str:
    return f"user{i}@example.com"


async def _post_until_answered(http: httpx.AsyncClient, ledger: Ledger, path: str, **kw: Any) -> str | None:
    """A client that retries 503s and dropped connections, as a real one would; None if never accepted."""
    for attempt in range(60):
        try:
            response = await http.post(path, **kw)
        except httpx.TransportError:
            ledger.refused[0] += 1
        else:
            if response.status_code == 202:
                job_id: str = response.json()["job_id"]
                return job_id
            ledger.refused[response.status_code] += 1
            if response.status_code < 500:
                raise AssertionError(f"{path} answered {response.status_code}: {response.text}")
        await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
    return None


async def _generate_load(http: httpx.AsyncClient, ledger: Ledger) -> None:
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(NOTIFYS):
        requests.append(("email", "/notify", {"json": {"email": _address(i), "name": f"User {i}"}}))
    for i in range(PAYMENTS):
        headers = {"Idempotency-Key": f"key-{i}"}
        body = {"amount_cents": 100 + i, "currency": "EUR"}
        requests.append(("payment", f"/charges/pay{i}", {"json": body, "headers": headers}))
        if i < REPEATED_KEYS:
            requests.append(("payment", f"/charges/pay{i}", {"json": body, "headers": headers}))
    for i in range(REPORTS):
        requests.append(("report", "/long", {"json": {"owner": i + 1, "label": "2026-03"}}))
    random.Random(7).shuffle(requests)

    async def send(kind: str, path: str, kw: dict[str, Any]) -> None:
        job_id = await _post_until_answered(http, ledger, path, **kw)
        if job_id is None:
            return
        ledger.accepted[job_id] = kind
        if kind == "email":
            ledger.emails[job_id] = kw["json"]["email"]
        elif kind == "payment":
            ledger.payments[job_id] = path.split("/")[2]

    tasks = []
    for kind, path, kw in requests:
        tasks.append(asyncio.create_task(send(kind, path, kw)))
        await asyncio.sleep(1 / SEND_RATE_PER_SECOND)
    await asyncio.gather(*tasks)


async def _in_progress(client: redis.asyncio.Redis) -> set[str]:
    prefix = keys.in_progress("")
    return {k.decode()[len(prefix) :] async for k in client.scan_iter(match=prefix + "*", count=1000)}


async def _finished(client: redis.asyncio.Redis, job_ids: set[str]) -> bool:
    if not job_ids:
        return True
    found = await client.exists(*[keys.result(j) for j in job_ids])
    return bool(found == len(job_ids))


async def _wait_finished(
    client: redis.asyncio.Redis,
    job_ids: set[str],
    workers: list[WorkerProcess],
    what: str,
    timeout: float = 60,
) -> None:
    """Wait until every job has a result; on timeout, say where the unfinished ones are."""
    try:
        await wait_for(lambda: _finished(client, job_ids), timeout=timeout, interval=0.1, what=what)
    except AssertionError as exc:
        unfinished = [j for j in job_ids if not await client.exists(keys.result(j))]
        states = [
            f"{j}: job={await client.exists(keys.job(j))} "
            f"claimed_ms={await client.pttl(keys.in_progress(j))} tries={await client.get(keys.retry(j))}"
            for j in unfinished[:10]
        ]
        logs = "\n".join(w.log_text()[-1500:] for w in workers)
        raise AssertionError(
            f"{exc}: {len(unfinished)} unfinished\n" + "\n".join(states) + "\n" + logs
        ) from exc


async def _run_chaos(
    workers: list[WorkerProcess], redis_server: RedisServer, client: redis.asyncio.Redis, chaos: Chaos
) -> None:
    await asyncio.sleep(3)
    for n in range(3):  # SIGKILL a worker three times, restarting it each time
        victim = workers[n % 2]
        running = await _in_progress(client)
        victim.kill()
        killed_at = time.monotonic()
        chaos.interrupted |= running
        workers[n % 2] = WorkerProcess(victim.settings, victim.log_path).start()
        chaos.events.append(f"SIGKILL worker {n % 2} with {len(running)} jobs in progress")
        await _wait_finished(client, running, workers, what="recovery after SIGKILL")
        chaos.kills.append(time.monotonic() - killed_at)
        await asyncio.sleep(2)

    for i in range(2):  # rolling deploy: SIGTERM one worker at a time, start its replacement
        old = workers[i]
        old.signal(15)
        assert old.process is not None
        await asyncio.to_thread(old.process.wait, 30)
        workers[i] = WorkerProcess(old.settings, old.log_path).start()
        chaos.events.append(f"rolled worker {i} (exit code {old.process.returncode})")
        await asyncio.sleep(2)

    chaos.interrupted |= await _in_progress(client)
    redis_server.stop()  # SIGTERM: Redis flushes its AOF, as on a clean restart
    await asyncio.sleep(REDIS_DOWN_SECONDS)
    redis_server.start()  # same port, same data directory
    chaos.events.append(f"restarted Redis ({REDIS_DOWN_SECONDS:.0f}s down)")


async def test_no_accepted_job_is_lost_under_kills_rolling_restarts_and_a_redis_restart(
    http: httpx.AsyncClient,
    sink: httpx.AsyncClient,
    chaos_redis: RedisServer,
    chaos_settings: Settings,
    tmp_path: Path,
) -> None:
    for i in range(NOTIFYS):
        if i % REJECTED_EVERY == 0:
            await sink.post("/_control/fail", json={"status": 400, "times": REJECTIONS, "to": _address(i)})
        elif i % FLAKY_EVERY == 0:
            await sink.post("/_control/fail", json={"status": 500, "times": 2, "to": _address(i)})
    workers = [WorkerProcess(chaos_settings, tmp_path / f"worker{i}.log").start() for i in range(2)]
    client = redis.asyncio.Redis.from_url(chaos_settings.redis_url)
    ledger, chaos = Ledger(), Chaos()
    started = time.monotonic()
    try:
        await asyncio.gather(_generate_load(http, ledger), _run_chaos(workers, chaos_redis, client, chaos))
        await client.aclose()
        client = redis.asyncio.Redis.from_url(chaos_settings.redis_url)
        await _wait_finished(client, set(ledger.accepted), workers, what="every accepted job", timeout=180)
        exited = [i for i, w in enumerate(workers) if w.process is None or w.process.poll() is not None]
        assert not exited, f"workers {exited} exited (the Redis restart must not end a worker)"
        await _assert_and_report(http, sink, client, ledger, chaos, time.monotonic() - started)
    finally:
        for worker in workers:
            worker.stop()
        await client.aclose()


async def _assert_and_report(
    http: httpx.AsyncClient,
    sink: httpx.AsyncClient,
    client: redis.asyncio.Redis,
    ledger: Ledger,
    chaos: Chaos,
    elapsed: float,
) -> None:
    statuses = {job_id: (await http.get(f"/jobs/{job_id}")).json() for job_id in ledger.accepted}
    letters = (await http.get("/admin/dead-letters", params={"limit": 500}, headers=_admin())).json()["items"]
    dead_ids = {item["job_id"] for item in letters}
    rejected = {j for j, a in ledger.emails.items() if _index(a) % REJECTED_EVERY == 0}

    by_status = Counter(s["status"] for s in statuses.values())
    failed = {j for j, s in statuses.items() if s["status"] == "failed"}
    assert failed == rejected, f"unexpected failures: {failed ^ rejected}"
    assert failed <= dead_ids
    assert by_status["complete"] == len(ledger.accepted) - len(rejected)

    deliveries = (await sink.get("/_control/deliveries")).json()
    per_job = Counter(d["idempotency_key"] for d in deliveries)
    should_deliver = set(ledger.emails) - rejected
    assert should_deliver <= set(per_job), f"never delivered: {should_deliver - set(per_job)}"
    duplicates = {j for j, n in per_job.items() if n > 1}
    assert duplicates <= chaos.interrupted, (
        f"duplicates outside interrupted jobs: {duplicates - chaos.interrupted}"
    )

    charges = [orjson.loads(raw) async for raw in _charge_records(client)]
    charged_payments = Counter(c["charge_id"] for c in charges)
    assert set(charged_payments) == set(ledger.payments.values())
    first_charges = Counter(
        ledger.payments[j] for j in ledger.payments if not statuses[j]["result"]["already_charged"]
    )
    assert all(n == 1 for n in first_charges.values()), "a payment was charged twice"

    flaky = [j for j, a in ledger.emails.items() if _index(a) % FLAKY_EVERY == 0 and j not in rejected]
    tries_of_flaky = {statuses[j]["try"] for j in flaky}
    assert min(tries_of_flaky) >= 3, "retried jobs must show their tries"

    print(
        "\n".join(
            [
                "",
                "=== chaos summary ===",
                f"jobs accepted (202): {len(ledger.accepted)}",
                f"answers the client retried while Redis was away: {dict(ledger.refused)}",
                f"completed: {by_status['complete']}  dead-lettered (sink 400, by design): {len(failed)}",
                f"duplicate deliveries: {len(duplicates)} "
                f"(all among {len(chaos.interrupted)} jobs interrupted by a kill or the Redis restart)",
                f"payments charged: {len(charged_payments)}, charged twice: 0",
                f"retried emails (sink 500 x2): {len(flaky)}, tries: {sorted(tries_of_flaky)}",
                "recovery after each SIGKILL (s): " + ", ".join(f"{k:.1f}" for k in chaos.kills),
                *chaos.events,
                f"wall time: {elapsed:.0f}s",
            ]
        )
    )


def _index(address: str) -> int:
    return int(address[4:].split("@")[0])


def _admin() -> dict[str, str]:
    return {"Authorization": "Bearer test-admin-token"}


async def _charge_records(client: redis.asyncio.Redis) -> AsyncIterator[bytes]:
    async for key in client.scan_iter(match=app_keys.charge("*"), count=1000):
        raw = await client.get(key)
        if raw is not None:
            yield raw
