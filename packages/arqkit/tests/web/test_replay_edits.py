"""A dead letter replayed with corrected arguments (issue 23): checked against the job's signature before
anything is written, previewed as a diff, audited (who, when, before and after), refused for a job that
declares `editable=False`, and still at most one job per letter however many edits race."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import redis.asyncio

from arqkit import JobQueue, QueueAdmin, dead_letters, keys
from arqkit.dead_letters import DeadLetter
from arqkit.internals.layout import read_job
from arqkit.serializer import META_KWARG
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import WorkerProcess, wait_for

ADMIN = {"Authorization": "Bearer test-admin-token"}
TYPO = "ada@exampel.com"


def letter(job_id: str, settings: Settings, function: str = "notify", **kwargs: Any) -> DeadLetter:
    return DeadLetter(
        job_id=job_id,
        function=function,
        queue=settings.queue_name,
        args=[],
        keyword_args=kwargs or {"email": TYPO, "name": "Ada"},
        error={"type": "HTTPStatusError", "message": "HTTP 400"},
        tries=1,
        enqueued_at_ms=None,
        failed_at_ms=int(time.time() * 1000),
    )


async def record(redis_client: redis.asyncio.Redis, dead: DeadLetter) -> str:
    await dead_letters.record(redis_client, dead, 1000)
    return dead.job_id


def replay(api: httpx.AsyncClient, job_id: str, body: dict[str, Any] | None = None) -> Any:
    return api.post(f"/admin/dead-letters/{job_id}/replay", headers=ADMIN, json=body)


async def queued_jobs(redis_client: redis.asyncio.Redis, settings: Settings) -> int:
    return int(await redis_client.zcard(settings.queue_name))


async def test_an_edited_replay_runs_with_the_corrected_arguments_and_completes(
    api: httpx.AsyncClient,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    """The address had a typo the provider rejects (400, final): fixed by hand, the replay delivers."""
    await sink.post("/_control/fail", json={"status": 400, "times": 100, "to": TYPO})
    failed = await job_queue.enqueue(notify, email=TYPO, name="Ada")
    await wait_for(lambda: _has_status(job_queue, failed.job_id, "failed"), what="the dead letter")

    answer = await replay(api, failed.job_id, {"kwargs": {"email": "ada@example.com", "name": "Ada"}})

    assert answer.status_code == 202, answer.text
    assert answer.json()["changes"] == [
        {"field": "email", "change": "changed", "before": TYPO, "after": "ada@example.com"}
    ]
    new_id = answer.json()["job_id"]
    await wait_for(lambda: _has_status(job_queue, new_id, "complete"), what="the edited replay")
    delivered = (await sink.get("/_control/deliveries")).json()
    assert [d["to"] for d in delivered] == ["ada@example.com"]


@pytest.mark.parametrize(
    ("kwargs", "field", "kind"),
    [
        ({"email": "ada@example.com", "name": 42}, "name", "string_type"),
        ({"email": "ada@example.com", "name": "Ada", "nmae": "Ada"}, "nmae", "extra_forbidden"),
        ({"email": "ada@example.com"}, "name", "missing"),
    ],
    ids=["wrong type", "unknown argument", "missing argument"],
)
async def test_arguments_that_do_not_fit_the_signature_are_a_422_naming_the_argument(
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
    settings: Settings,
    kwargs: dict[str, Any],
    field: str,
    kind: str,
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))

    answer = await replay(api, letter_id, {"kwargs": kwargs})

    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "kwargs", field], kind)
    assert await queued_jobs(redis_client, settings) == 0  # nothing enqueued
    assert await dead_letters.contains(redis_client, letter_id)  # the letter stays
    assert await redis_client.get(keys.replay_record(letter_id)) is None  # nor recorded


async def test_the_preview_answers_before_after_and_the_diff_and_enqueues_nothing(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))
    body = {"kwargs": {"email": "ada@example.com", "name": "Ada"}}

    answer = await api.post(f"/admin/dead-letters/{letter_id}/replay/preview", headers=ADMIN, json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "replay_of": letter_id,
        "function": "notify",
        "before": {"email": TYPO, "name": "Ada"},
        "after": {"email": "ada@example.com", "name": "Ada"},
        "changes": [{"field": "email", "change": "changed", "before": TYPO, "after": "ada@example.com"}],
    }
    assert await queued_jobs(redis_client, settings) == 0
    assert await dead_letters.contains(redis_client, letter_id)
    plain = await api.post(f"/admin/dead-letters/{letter_id}/replay/preview", headers=ADMIN)
    assert plain.json()["after"] == plain.json()["before"] == {"email": TYPO, "name": "Ada"}  # a form to edit


async def test_positional_arguments_of_the_letter_are_named_for_the_edit(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    dead = letter("dead-1", settings).model_copy(update={"args": [TYPO, "Ada"], "keyword_args": {}})
    letter_id = await record(redis_client, dead)

    preview = await api.post(f"/admin/dead-letters/{letter_id}/replay/preview", headers=ADMIN)

    assert preview.json()["before"] == {"email": TYPO, "name": "Ada"}


async def test_an_edited_replay_is_recorded_with_who_when_and_the_arguments_before_and_after(
    api: httpx.AsyncClient,
    redis_client: redis.asyncio.Redis,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))
    started = time.time()

    body = {"kwargs": {"email": "fixed.person@example.com", "name": "Ada"}, "operator": "grace"}
    new_id = (await replay(api, letter_id, body)).json()["job_id"]

    for job_id, field in ((letter_id, "replay"), (new_id, "replayed_from")):  # the letter's, the new job's
        audit = (await api.get(f"/admin/jobs/{job_id}", headers=ADMIN)).json()[field]
        assert audit["replay_of"] == letter_id
        assert audit["job_id"] == new_id
        assert (audit["operator"], audit["via"], audit["edited"]) == ("grace", "token", True)
        assert audit["before"] == {"email": TYPO, "name": "Ada"}
        assert audit["after"] == {"email": "fixed.person@example.com", "name": "Ada"}
        assert [change["field"] for change in audit["changes"]] == ["email"]
        assert started - 1 <= _epoch(audit["at"]) <= time.time() + 1
    job = read_job(await redis_client.get(keys.job(new_id)))
    assert job is not None
    meta = job.kwargs[META_KWARG]
    assert (meta["replay_of"], meta["edited_by"], meta["edited_via"]) == (letter_id, "grace", "token")
    assert {k: v for k, v in job.kwargs.items() if k != META_KWARG} == body["kwargs"]
    logged = [line for line in caplog.messages if "edited arguments" in line]
    assert len(logged) == 1, logged
    assert "grace" in logged[0]
    assert "email" in logged[0]
    assert "fixed.person" not in logged[0]
    assert "exampel" not in logged[0]


async def test_a_job_declared_not_editable_is_refused_with_409_and_replays_unchanged(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """`charge` is `@job(editable=False)`: a payment's amount is not changed by hand after the fact."""
    dead = letter("dead-charge", settings, "charge", charge_id="c-1", amount_cents=100, currency="EUR")
    letter_id = await record(redis_client, dead)
    edited = {"charge_id": "c-1", "amount_cents": 10_000, "currency": "EUR"}

    refused = await replay(api, letter_id, {"kwargs": edited})
    previewed = await api.post(
        f"/admin/dead-letters/{letter_id}/replay/preview", headers=ADMIN, json={"kwargs": edited}
    )

    assert (refused.status_code, previewed.status_code) == (409, 409)
    assert "editable=False" in refused.json()["detail"]
    assert await queued_jobs(redis_client, settings) == 0
    unchanged = await replay(api, letter_id)
    assert unchanged.status_code == 202
    assert unchanged.json()["changes"] is None


async def test_a_letter_of_a_function_the_registry_lacks_cannot_be_edited(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    letter_id = await record(redis_client, letter("dead-gone", settings, "removed_job", x=1))

    answer = await replay(api, letter_id, {"kwargs": {"x": 2}})

    assert answer.status_code == 409
    assert "not in this deployment's registry" in answer.json()["detail"]
    assert await queued_jobs(redis_client, settings) == 0


async def test_an_unknown_letter_is_a_404_and_an_unknown_body_field_a_422(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))

    unknown = await replay(api, "no-such-letter", {"kwargs": {"email": "a@example.com", "name": "A"}})
    typo = await replay(api, letter_id, {"kwarg": {"email": "a@example.com", "name": "A"}})
    operator = await replay(api, letter_id, {"kwargs": None, "operator": "line\nbreak"})

    assert unknown.status_code == 404
    assert (typo.status_code, operator.status_code) == (422, 422)


async def test_concurrent_edited_replays_of_one_letter_make_one_job_with_the_first_ones_arguments(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """Two operators fix one letter at once, differently: one job, with one of the two edits; the
    other's requests are refused (409), none makes a second job. The same edit again answers that job."""
    letter_id = await record(redis_client, letter("dead-1", settings))
    edits = [{"email": f"fix-{n}@example.com", "name": "Ada"} for n in range(2)]

    answers = await asyncio.gather(
        *(replay(api, letter_id, {"kwargs": edits[n % 2]}) for n in range(20)),
        *(replay(api, letter_id) for _ in range(5)),  # and plain replays of the same letter
    )

    codes = [answer.status_code for answer in answers]
    assert set(codes) <= {202, 404, 409}, codes
    accepted = [answer.json() for answer in answers if answer.status_code == 202]
    assert len({a["job_id"] for a in accepted}) == 1
    assert await queued_jobs(redis_client, settings) == 1
    [job_id] = await redis_client.zrange(settings.queue_name, 0, -1)
    job = read_job(await redis_client.get(keys.job(job_id.decode())))
    assert job is not None
    winner = {k: v for k, v in job.kwargs.items() if k != META_KWARG}
    assert all(a["changes"] is None or a["changes"][0]["after"] == winner["email"] for a in accepted)
    loser = next(edit for edit in edits if edit != winner)
    assert (await replay(api, letter_id, {"kwargs": loser})).status_code in (404, 409)


async def test_a_retry_of_the_same_edit_answers_the_same_job(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """A crash between the replay's write and the letter's removal: the retry finds the one job."""
    dead = letter("dead-1", settings)
    letter_id = await record(redis_client, dead)
    body = {"kwargs": {"email": "ada@example.com", "name": "Ada"}}
    first = (await replay(api, letter_id, body)).json()
    await record(redis_client, dead)  # as if its removal never happened

    other = await replay(api, letter_id, {"kwargs": {"email": "bob@example.com", "name": "Bob"}})
    again = await replay(api, letter_id, body)

    assert again.status_code == 202
    assert again.json()["job_id"] == first["job_id"]
    assert other.status_code == 409
    assert first["job_id"] in other.json()["detail"]
    assert await queued_jobs(redis_client, settings) == 1


async def test_the_admin_interface_takes_the_same_edit(
    job_queue: JobQueue, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))

    replayed = await QueueAdmin(job_queue).replay(
        letter_id, {"email": "ada@example.com", "name": "Ada"}, operator="ops-bot", via="cli"
    )

    assert [change.field for change in replayed.changes or []] == ["email"]
    detail = await QueueAdmin(job_queue).job_detail(replayed.job_id)
    assert detail.replayed_from is not None
    assert (detail.replayed_from.operator, detail.replayed_from.via) == ("ops-bot", "cli")


async def _has_status(job_queue: JobQueue, job_id: str, status: str) -> bool:
    return (await job_queue.status(job_id)).status == status


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.parametrize(
    "raw_kwargs",
    [
        '{"email": 1180591620717411303424, "name": "Ada"}',  # over 64 bits
        '{"email": ' + "[" * 400 + "]" * 400 + ', "name": "Ada"}',  # deep
        '{"email": "a@example.com", "name": "Ada", "\\ud800": 1}',  # a lone surrogate as a name
        '{"email": NaN, "name": "Ada"}',
        '{"email": "a@example.com", "name": "\\u0000"}',
    ],
    ids=["huge int", "deep", "surrogate name", "nan", "nul"],
)
async def test_hostile_edits_are_a_4xx_never_a_500(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings, raw_kwargs: str
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))

    for path in (
        f"/admin/dead-letters/{letter_id}/replay/preview",
        f"/admin/dead-letters/{letter_id}/replay",
    ):
        answer = await api.post(
            path,
            headers={**ADMIN, "Content-Type": "application/json"},
            content='{"kwargs": ' + raw_kwargs + "}",
        )
        assert answer.status_code < 500, (path, answer.text)
        answer.json()  # JSON, whatever the input


async def test_a_window_replay_skips_a_letter_already_replayed_with_edits(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """The edited replay's letter is back (a crash before its removal): the window must not replay it
    with its old arguments."""
    dead = letter("dead-1", settings)
    letter_id = await record(redis_client, dead)
    await replay(api, letter_id, {"kwargs": {"email": "ada@example.com", "name": "Ada"}})
    await record(redis_client, dead)

    window = await api.post("/admin/dead-letters/replay", headers=ADMIN, json={"since_seconds": 60})

    assert window.json()["count"] == 0
    assert await queued_jobs(redis_client, settings) == 1  # the edited one only


async def test_log_job_arguments_puts_the_values_in_the_log_line(
    job_queue: JobQueue,
    redis_client: redis.asyncio.Redis,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shown = JobQueue(
        job_queue.redis, settings.model_copy(update={"log_job_arguments": True}), job_queue.registry
    )
    letter_id = await record(redis_client, letter("dead-1", settings))

    await QueueAdmin(shown).replay(letter_id, {"email": "shown.person@example.com", "name": "Ada"})

    [line] = [message for message in caplog.messages if "edited arguments" in message]
    assert "shown.person@example.com" in line


async def test_the_diff_compares_the_arguments_as_the_job_reads_them(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """A value stored in another spelling the job reads the same (`"7"` for an int) is not a change."""
    letter_id = await record(redis_client, letter("dead-long", settings, "long_task", owner="7", label="a"))
    body = {"kwargs": {"owner": 7, "label": "b"}}

    preview = await api.post(f"/admin/dead-letters/{letter_id}/replay/preview", headers=ADMIN, json=body)

    assert preview.json()["changes"] == [{"field": "label", "change": "changed", "before": "a", "after": "b"}]


async def test_a_replay_that_fails_again_can_be_replayed_with_other_edits(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    """The first edit was wrong too: the new job's own dead letter is edited again, its own replay."""
    letter_id = await record(redis_client, letter("dead-1", settings))
    body = {"kwargs": {"email": "ada@example.org", "name": "Ada"}}
    first = (await replay(api, letter_id, body)).json()["job_id"]
    await redis_client.delete(settings.queue_name)  # as if it ran and failed:
    await record(redis_client, letter(first, settings, email="ada@example.org", name="Ada"))

    again = await replay(api, first, {"kwargs": {"email": "ada@example.com", "name": "Ada"}})

    assert again.status_code == 202, again.text
    assert again.json()["job_id"] not in (letter_id, first)
    detail = (await api.get(f"/admin/jobs/{first}", headers=ADMIN)).json()
    assert (detail["replayed_from"]["replay_of"], detail["replay"]["replay_of"]) == (letter_id, first)
    assert detail["replay"]["after"]["email"] == "ada@example.com"


async def test_an_unreadable_replay_record_is_skipped_not_a_500(
    api: httpx.AsyncClient, redis_client: redis.asyncio.Redis, settings: Settings
) -> None:
    letter_id = await record(redis_client, letter("dead-1", settings))
    await redis_client.set(keys.replay_record(letter_id), b"\x80 not json")

    detail = await api.get(f"/admin/jobs/{letter_id}", headers=ADMIN)
    replayed = await replay(api, letter_id, {"kwargs": {"email": "ada@example.com", "name": "Ada"}})

    assert detail.status_code == 200
    assert detail.json()["replay"] is None
    assert replayed.status_code == 202  # the derived job id still makes one job at most
