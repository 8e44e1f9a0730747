"""Celery with its Redis broker, as its docs show, with the durable settings.

`celery -A bench.peers.celery_worker worker --pool threads --concurrency 50` (or `--pool solo`).
Durable: `task_acks_late` (ack after the task, not on receipt), `task_reject_on_worker_lost` (a task
whose worker process died is requeued, not acked) and the broker's `visibility_timeout` (kombu's
Redis transport redelivers an unacked message after it: 1 hour by default, kept). No result backend.
"""

from __future__ import annotations

import time

from celery import Celery

from bench.peers.common import REDIS_URL, SLEEP_SECONDS, noop_job, record_start

VISIBILITY_TIMEOUT_SECONDS = 3600  # kombu's default, stated: a shorter one re-runs long tasks while they run

app = Celery("bench", broker=REDIS_URL)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop() -> None:
    noop_job()


@app.task(name="sleep")
def sleep() -> None:
    record_start()
    time.sleep(SLEEP_SECONDS)


async def enqueue_noops(count: int) -> None:
    for _ in range(count):
        noop.delay()


async def enqueue_sleep() -> None:
    sleep.delay()
