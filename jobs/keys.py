"""This service's own Redis keys, all under `app:`, spelled here only. The machinery's keys (`arq:`,
`svc:`) are `arqkit.keys`'; a job reaches Redis as `ctx.redis`."""

from __future__ import annotations

PREFIX = "app:"


def payment_charge(payment_id: str) -> str:
    """The record that a payment was charged (jobs/tasks/payments.py): its presence is the idempotency."""
    return f"{PREFIX}charge:{payment_id}"


def invoice(order_id: str) -> str:
    """An order's invoice (jobs/tasks/orders.py): written once, however often its job runs."""
    return f"{PREFIX}invoice:{order_id}"


def order_fulfilled(order_id: str) -> str:
    """That an order was fulfilled: the last step of its flow (jobs/tasks/orders.py)."""
    return f"{PREFIX}fulfilled:{order_id}"


def user_synced(user_id: int) -> str:
    """When the user was last synced (jobs/tasks/users.py)."""
    return f"{PREFIX}user-synced:{user_id}"


def digest_sent(day: str) -> str:
    """That day's digest went out (jobs/tasks/cron.py)."""
    return f"{PREFIX}digest:{day}"
