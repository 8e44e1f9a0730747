from __future__ import annotations

from arqkit import Registry
from tests.service.jobs import charge, daily_tick, hourly_tick, long_task, notify

REGISTRY = Registry([notify, long_task, charge, daily_tick, hourly_tick])
