"""The public job status says what went wrong without what only the operator may see (a downstream URL
can carry credentials); the admin view keeps the full message and traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arqkit.retry import PermanentError, TransientError
from arqkit.serializer import public_message
from tests.support import WorkerProcess, wait_for, wait_for_status

ADMIN = {"Authorization": "Bearer test-admin-token"}
NOTIFY = {"email": "ada@example.com", "name": "Ada"}


@pytest.mark.parametrize(("status", "tries"), [(500, 8), (400, 1)])
async def test_a_downstream_error_shows_no_url_publicly_and_in_full_to_the_admin(
    api: httpx.AsyncClient,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
    sink_url: str,
    status: int,
    tries: int,
) -> None:
    await sink.post("/_control/fail", json={"status": status, "times": tries})
    job_id = (await api.post("/notify", json=NOTIFY)).json()["job_id"]

    public = await wait_for_status(api, job_id, {"complete", "failed"}, timeout=30)
    detail = await _admin_detail_once_recorded(api, job_id, tries)

    assert public["status"] == "failed"
    assert public["error"] == {
        "type": "HTTPStatusError",
        "message": f"HTTP {status} from the downstream service",
    }
    assert "://" not in str(public)
    assert sink_url in detail["failed_tries"][-1]["message"]
    assert sink_url in detail["dead_letter"]["traceback"]


async def _admin_detail_once_recorded(api: httpx.AsyncClient, job_id: str, tries: int) -> dict[str, Any]:
    async def recorded() -> dict[str, Any] | None:
        detail: dict[str, Any] = (await api.get(f"/admin/jobs/{job_id}", headers=ADMIN)).json()
        done = detail.get("dead_letter") and len(detail.get("failed_tries", [])) == tries
        return detail if done else None

    return await wait_for(recorded, timeout=15, what="the failure in the admin view")


def _status_error(status: int, url: str) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", url)
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"Server error for url {url!r}", request=request, response=response)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_status_error(503, "https://user:secret@mail.example/send"), "HTTP 503 from the downstream service"),
        (httpx.ConnectError("connect to https://user:secret@mail.example failed"), "ConnectError talking"),
        (PermanentError("the card was declined"), "the card was declined"),
        (TransientError("the bank is busy"), "the bank is busy"),
        (RuntimeError("GET https://user:secret@x.example/a?k=1 failed"), "GET <url> failed"),
        (TimeoutError(), "job timed out"),
    ],
    ids=["http-status", "transport", "permanent", "transient", "other-with-url", "timeout"],
)
def test_the_public_message_of_an_exception_masks_urls(exc: BaseException, expected: str) -> None:
    message = public_message(exc)

    assert message.startswith(expected)
    assert "secret" not in message
