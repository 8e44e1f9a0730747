"""Records another process wrote to Redis, read defensively: one that does not parse is logged and
skipped, so a malformed dead letter or heartbeat never turns a listing, a job view or the dashboard's
stream into a 500 (anyone with write access to Redis can put anything there)."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger("jobs.records")


def model_or_none(model: type[M], raw: bytes | str, key: str) -> M | None:
    """`raw` as `model`, or None (logged) when it is not one."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        log.warning("skipped a malformed record", key=key, kind=model.__name__, errors=error.error_count())
        return None


def json_or_none(raw: bytes | str, key: str) -> Any:
    """`raw` as JSON, or None (logged) when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("skipped a record that is not JSON", key=key)
        return None


def number_or_none(raw: bytes | str | None, key: str) -> float | None:
    """A finite number stored as text (a counter, a timestamp, a progress), else None (logged if present)."""
    if raw is None or raw in (b"", ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        log.warning("skipped a malformed number", key=key)
        return None
    return value
