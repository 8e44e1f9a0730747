"""Every job the worker runs. Adding a job: define it with `@job` in its module, add it here."""

from __future__ import annotations

from typing import Any

from jobs.cron import daily_digest, hourly_sweep
from jobs.definition import JobDefinition
from jobs.email import send_welcome_email
from jobs.payments import charge_payment
from jobs.reports import generate_report

JOBS: list[JobDefinition[..., Any]] = [send_welcome_email, generate_report, charge_payment]
CRON_JOBS: list[JobDefinition[..., Any]] = [daily_digest, hourly_sweep]

BY_NAME: dict[str, JobDefinition[..., Any]] = {j.name: j for j in [*JOBS, *CRON_JOBS]}
