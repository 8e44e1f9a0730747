from __future__ import annotations

from arqkit import Registry
from tests.service.jobs import (
    charge,
    daily_tick,
    hourly_tick,
    long_task,
    notify,
    ping_topic,
    record_step,
    report_failures,
    starts_a_flow,
    sync_account,
    tenant_work,
)

REGISTRY = Registry(
    [
        *(notify, long_task, charge, daily_tick, hourly_tick),
        *(record_step, report_failures, starts_a_flow),  # flows
        *(sync_account, ping_topic, tenant_work),  # unique jobs, per-key concurrency
    ]
)
