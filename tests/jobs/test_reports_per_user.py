"""`generate_report` has a per-key cap (`PerKey("user_id", limit=1)`): one user's reports run one at a time,
while another user's report runs beside them."""

from __future__ import annotations

from datetime import datetime

import httpx
from arqkit.testing import WorkerProcess, wait_for_status

from tests.support import PROCESS_START_SECONDS

FINAL = {"complete", "failed"}


async def _report(api: httpx.AsyncClient, user_id: int, month: str) -> str:
    response = await api.post("/reports", json={"user_id": user_id, "month": month})
    assert response.status_code == 202
    job_id: str = response.json()["job_id"]
    return job_id


def _span(job: dict[str, object]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(str(job["started_at"])), datetime.fromisoformat(str(job["finished_at"]))


async def test_one_users_reports_run_one_at_a_time_and_another_users_beside_them(
    api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    asked = [(7, "2026-01"), (7, "2026-02"), (8, "2026-01")]
    ids = [await _report(api, user_id, month) for user_id, month in asked]

    jan, feb, other = [await wait_for_status(api, i, FINAL, timeout=PROCESS_START_SECONDS) for i in ids]

    assert [job["status"] for job in (jan, feb, other)] == ["complete"] * 3
    assert [job["try"] for job in (jan, feb, other)] == [1, 1, 1]  # waiting for its turn spent no try
    (jan_start, jan_end), (feb_start, feb_end) = _span(jan), _span(feb)
    assert jan_end <= feb_start or feb_end <= jan_start  # user 7's two reports never overlapped
    other_start, other_end = _span(other)
    first_start, first_end = min((jan_start, jan_end), (feb_start, feb_end))
    assert other_start < first_end  # user 8's ran beside user 7's first
    assert first_start < other_end
