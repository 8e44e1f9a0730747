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
