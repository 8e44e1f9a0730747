"""Testing your own jobs with the kit: the README's example, word for word (tests/tooling checks that)."""

from __future__ import annotations

import httpx
from arqkit.testing import JobKit

from jobs.tasks.email import send_welcome_email


async def test_signup_enqueues_a_welcome_email_that_reaches_the_provider(
    api: httpx.AsyncClient, job_kit: JobKit, sink: httpx.AsyncClient
) -> None:
    response = await api.post("/signup", json={"email": "ada@example.com", "name": "Ada"})

    [queued] = await job_kit.enqueued()  # what the request enqueued, as stored in Redis
    assert queued.function == "send_welcome_email"
    assert queued.kwargs == {"email": "ada@example.com", "name": "Ada"}

    [run] = await job_kit.drain()  # a real worker, in this process, until the queues are empty
    assert run.job_id == response.json()["job_id"]
    assert run.status == "complete"
    [email] = (await sink.get("/_control/deliveries")).json()
    assert email["subject"] == "Welcome, Ada!"


async def test_a_provider_outage_is_retried_with_backoff_until_delivered(
    job_kit: JobKit, sink: httpx.AsyncClient
) -> None:
    await sink.post("/_control/fail", json={"status": 503, "times": 2})

    run = await job_kit.run(send_welcome_email, email="ada@example.com", name="Ada")

    assert run.status == "complete"
    assert run.tries == 3
    assert [t["type"] for t in run.failed_tries] == ["HTTPStatusError", "HTTPStatusError"]


async def test_a_rejected_address_ends_as_a_dead_letter_after_one_try(
    job_kit: JobKit, sink: httpx.AsyncClient
) -> None:
    await sink.post("/_control/fail", json={"status": 422, "times": 1})

    run = await job_kit.run(send_welcome_email, email="nobody@example.com", name="Nobody")

    assert run.status == "failed"
    assert run.tries == 1
    assert run.dead_letter is not None
    assert run.dead_letter.error["type"] == "HTTPStatusError"
