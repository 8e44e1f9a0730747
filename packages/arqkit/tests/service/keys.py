"""The fixture service's own Redis keys."""

from __future__ import annotations

PREFIX = "app:"


def charge(charge_id: str) -> str:
    """The record that `charge` ran for this id: its presence is the idempotency."""
    return f"{PREFIX}charge:{charge_id}"


def daily(day: str) -> str:
    return f"{PREFIX}daily:{day}"


def flow_log(label: str) -> str:
    """list: the names of a test flow's steps, in the order they ran (`record_step`)."""
    return f"{PREFIX}flow-log:{label}"


def flow_gate(label: str) -> str:
    """Present once a gated `record_step` may finish."""
    return f"{PREFIX}flow-gate:{label}"


def flow_fixed(label: str) -> str:
    """Present once a failing `record_step` succeeds (its replay, after the fix)."""
    return f"{PREFIX}flow-fixed:{label}"


def runs() -> str:
    """hash: job id -> how many times `sync_account` ran it."""
    return f"{PREFIX}runs"


def released(account_id: int) -> str:
    """Present once a test lets `sync_account` of this account finish."""
    return f"{PREFIX}released:{account_id}"


def tenant_running(tenant_id: str) -> str:
    """How many `tenant_work` jobs of the tenant run right now."""
    return f"{PREFIX}tenant:{tenant_id}:running"


def tenant_seen(tenant_id: str) -> str:
    """list: that count as each of the tenant's jobs started."""
    return f"{PREFIX}tenant:{tenant_id}:seen"


TENANTS_DONE = f"{PREFIX}tenants-done"  # list: the tenant of each `tenant_work` as it finished
