from __future__ import annotations

from arqkit import Registry
from tests.service.jobs import (
    charge,
    daily_tick,
    hourly_tick,
    long_task,
    notify,
    record_step,
    report_failures,
    starts_a_flow,
)

REGISTRY = Registry(
    [notify, long_task, charge, daily_tick, hourly_tick, record_step, report_failures, starts_a_flow]
)
