"""Priorities: a `critical`, a `default` and a `bulk` queue, each served by its own pool of workers.

arq has no priorities: a worker reads one queue, oldest first. So a priority is a queue, and capacity
is what makes it fast: a critical job waits only for the critical workers, never behind a backlog of
bulk jobs. A job's queue is its `@job(priority=...)` unless the enqueue says otherwise:

    await queue.with_options(priority="critical").enqueue(send_welcome_email, email=..., name=...)

Run a pool per queue: `arq jobs.WorkerSettings` (default, `arq:queue`), `arq jobs.CriticalWorkerSettings`,
`arq jobs.BulkWorkerSettings`. Every pool can run every job; cron runs on the default pool only.
"""

from __future__ import annotations

from typing import Literal, get_args

from arqkit import keys
from arqkit.errors import UnknownQueue
from arqkit.settings import QueueSettings

Priority = Literal["critical", "default", "bulk"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)


def queue_name(settings: QueueSettings, priority: Priority) -> str:
    """The arq queue of `priority`: `QUEUE_NAME` for default, `QUEUE_NAME:<priority>` for the others."""
    return keys.priority_queue(settings.queue_name, priority)


def parse(name: str) -> Priority:
    """An operator's queue name (`default`, `critical`, `bulk`) as a priority; `UnknownQueue` otherwise."""
    for priority in PRIORITIES:
        if name == priority:
            return priority
    raise UnknownQueue(name)


def label(settings: QueueSettings, queue: str) -> str:
    """The operator's name of an arq queue (`arq:queue:bulk` -> `bulk`), as every surface shows it:
    metrics labels, the dashboard, `/admin/queues`, the CLI. A queue of no priority keeps its own name."""
    for priority in PRIORITIES:
        if queue == queue_name(settings, priority):
            return priority
    return queue


def all_queue_names(settings: QueueSettings) -> list[str]:
    """Every queue, highest priority first."""
    return [queue_name(settings, priority) for priority in PRIORITIES]


def settings_for(settings: QueueSettings, priority: Priority) -> QueueSettings:
    """The settings of a worker that serves `priority`'s queue."""
    return settings.model_copy(update={"queue_name": queue_name(settings, priority)})
