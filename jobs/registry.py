"""Every job of this service. Adding one: write it with `@job(...)` in a module of `jobs/tasks/`, add it here.

A job with `@job(cron=Cron(...))` is scheduled as well; a name used twice is refused at import.
"""

from __future__ import annotations

from arqkit import Registry

from jobs.tasks.cron import daily_digest, hourly_sweep
from jobs.tasks.email import send_receipt, send_welcome_email
from jobs.tasks.orders import create_invoice, mark_fulfilled
from jobs.tasks.payments import charge_payment
from jobs.tasks.reports import generate_report
from jobs.tasks.thumbnails import make_thumbnail
from jobs.tasks.users import sync_user

REGISTRY = Registry(
    [
        *(send_welcome_email, generate_report, charge_payment, daily_digest, hourly_sweep, make_thumbnail),
        sync_user,  # unique while queued or running (api/routes/producers.py)
        *(send_receipt, create_invoice, mark_fulfilled),  # an order's fulfilment, a flow
    ]
)
