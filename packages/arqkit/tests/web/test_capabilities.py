"""Job ids are capabilities (issue 21, findings 2 and 3): whoever knows an id may read and abort that job,
so no public id derives from what a client knows without the server's JOB_ID_SECRET, and the jobs the
service runs for itself (cron ticks, whose ids arq computes from the schedule) are not served by the
public job routes at all: only the admin reads and aborts them."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio
from pydantic import SecretStr

from arqkit import JobQueue, keys
from arqkit.idempotency import job_id_for
from tests.service.app import create_app
from tests.service.jobs import hourly_tick
from tests.service.settings import Settings

ADMIN = {"Authorization": "Bearer test-admin-token"}
CHARGE = {"amount_cents": 1250, "currency": "EUR"}


async def test_a_cron_tick_is_neither_readable_nor_abortable_through_the_public_routes(
    api: httpx.AsyncClient, job_queue: JobQueue
) -> None:
    tick_ms = (int(time.time()) // 3600 + 1) * 3600 * 1000  # the next hour, as arq's cron names it
    tick = f"hourly_tick:{tick_ms}"
    await job_queue.with_options(job_id=tick, defer_by=None).enqueue(hourly_tick)

    answers = [
        await api.get(f"/jobs/{tick}"),
        await api.get(f"/jobs/{tick}", params={"wait": 1}),
        await api.get(f"/jobs/{tick}/events"),
        await api.delete(f"/jobs/{tick}"),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404], [a.text for a in answers]
    assert (await api.get(f"/admin/jobs/{tick}", headers=ADMIN)).json()["status"]["status"] == "queued"


async def test_a_cron_job_under_any_id_is_internal_and_the_admin_may_abort_it(
    api: httpx.AsyncClient, job_queue: JobQueue
) -> None:
    job = await job_queue.with_options(job_id="sweep-by-hand").enqueue(hourly_tick)

    assert (await api.get(f"/jobs/{job.job_id}")).status_code == 404
    assert (await api.delete(f"/jobs/{job.job_id}")).status_code == 404
    aborted = await api.delete(f"/admin/jobs/{job.job_id}", headers=ADMIN)
    assert aborted.status_code == 202, aborted.text
    detail = (await api.get(f"/admin/jobs/{job.job_id}", headers=ADMIN)).json()
    assert detail["status"]["status"] == "aborted"


async def test_an_idempotent_charge_id_cannot_be_computed_from_the_key(api: httpx.AsyncClient) -> None:
    key = "order-1042"  # what clients often use: guessable by anyone
    answer = await api.post("/charges/p-7", json=CHARGE, headers={"Idempotency-Key": key})
    job_id = answer.json()["job_id"]

    unkeyed = hashlib.sha256(f"charge:p-7\0{key}".encode()).hexdigest()[:32]
    assert job_id != f"charge:p-7-{unkeyed}"  # what anyone could compute before
    again = await api.post("/charges/p-7", json=CHARGE, headers={"Idempotency-Key": key})
    assert again.json()["job_id"] == job_id  # the owner's retry still finds its job


@pytest.fixture
async def other_secret_api(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(update={"job_id_secret": SecretStr("another-secret-0123456789abcdef")})
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_the_charge_id_depends_on_the_server_secret(
    api: httpx.AsyncClient, other_secret_api: httpx.AsyncClient
) -> None:
    first = await api.post("/charges/p-8", json=CHARGE, headers={"Idempotency-Key": "k-1"})
    other = await other_secret_api.post("/charges/p-9", json=CHARGE, headers={"Idempotency-Key": "k-1"})
    mine = await other_secret_api.post("/charges/p-8", json=CHARGE, headers={"Idempotency-Key": "k-2"})
    ours = await api.post("/charges/p-9", json=CHARGE, headers={"Idempotency-Key": "k-2"})

    ids = {a.json()["job_id"].rpartition("-")[2] for a in (first, other, mine, ours)}
    assert len(ids) == 4


async def test_a_key_recorded_before_keyed_ids_keeps_its_job(
    redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """A record written by the previous release (the body's fingerprint alone) maps to the old id, so an
    upgrade in the middle of a client's retries never makes a second charge."""
    scope, key, body = "charge:p-3", "k-old", '{"amount_cents":1}'
    key_digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()
    fingerprint = hashlib.sha256(body.encode()).hexdigest()
    await redis_client.set(keys.idempotency(scope, key_digest), fingerprint, ex=60)

    job_id = await job_id_for(redis_client, scope, key, body, 60, settings)

    assert job_id == f"{scope}-{key_digest[:32]}"
