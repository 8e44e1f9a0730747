"""The fixture service's own Redis keys."""

from __future__ import annotations

PREFIX = "app:"


def charge(charge_id: str) -> str:
    """The record that `charge` ran for this id: its presence is the idempotency."""
    return f"{PREFIX}charge:{charge_id}"


def daily(day: str) -> str:
    return f"{PREFIX}daily:{day}"
