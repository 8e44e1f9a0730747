"""Order fulfilment flows outlive a worker killed (SIGKILL) in their middle: each completes, receipt sent."""

from __future__ import annotations

from pathlib import Path

import httpx
from arqkit.testing import JobKit, WorkerProcess, wait_for, wait_for_status

from settings import Settings
from tests.support import PROCESS_START_SECONDS, ROOT

FLOWS = 20


async def test_every_order_flow_completes_with_its_receipt_when_a_worker_is_killed(
    api: httpx.AsyncClient, settings: Settings, tmp_path: Path, sink: httpx.AsyncClient, job_kit: JobKit
) -> None:
    # The provider's limit spreads the receipts over about two seconds: the kill lands among the flows.
    slow_mail = settings.model_copy(update={"email_rate_limit": "10/second", "crash_recovery_seconds": 3})
    flow_ids = []
    for n in range(FLOWS):
        body = {"amount_cents": 100 + n, "currency": "EUR", "email": f"buyer-{n}@example.com"}
        flow_ids.append((await api.post(f"/orders/kill-{n}/fulfil", json=body)).json()["job_id"])
    doomed = _worker(slow_mail, tmp_path / "doomed.log").start()
    try:
        await wait_for(lambda: _receipts(sink), timeout=PROCESS_START_SECONDS, what="the first receipts")
        doomed.kill()  # SIGKILL mid-flow: the steps it claimed run again once their claims lapse
    finally:
        doomed.stop()
    assert await _receipts(sink) < FLOWS  # the kill was in the middle
    survivor = _worker(slow_mail, tmp_path / "survivor.log").start()
    try:
        for flow_id in flow_ids:
            done = await wait_for_status(api, flow_id, {"complete", "failed", "aborted"}, timeout=90)
            assert done["status"] == "complete", done
    finally:
        survivor.stop()
    delivered = {mail["to"] for mail in (await sink.get("/_control/deliveries")).json()}
    assert delivered == {f"buyer-{n}@example.com" for n in range(FLOWS)}


def _worker(settings: Settings, log: Path) -> WorkerProcess:
    return WorkerProcess(settings, log, "jobs.WorkerSettings", cwd=ROOT)


async def _receipts(sink: httpx.AsyncClient) -> int:
    return len((await sink.get("/_control/deliveries")).json())
