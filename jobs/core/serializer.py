"""JSON (orjson) in place of arq's default pickle, for jobs and results.

With pickle, anyone who can write to Redis can run code in every worker and API process. JSON cannot
carry code; an exception result is stored as its type and message only.
"""

from __future__ import annotations

from typing import Any

import orjson

EXCEPTION_MARKER = "__exception__"
META_KWARG = "_meta"  # reserved job kwarg carrying the enqueuer's context (request id, replay link)


def exception_record(exc: BaseException) -> dict[str, Any]:
    """What is kept of an exception: its type and message, never its traceback."""
    message = str(exc) or ("job timed out" if isinstance(exc, TimeoutError) else "")
    return {EXCEPTION_MARKER: True, "type": type(exc).__name__, "message": message}


def _encode_other(value: Any) -> Any:
    if isinstance(value, BaseException):
        return exception_record(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, default=_encode_other, option=orjson.OPT_NON_STR_KEYS)


def deserialize(raw: bytes) -> dict[str, Any]:
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a job payload must be a JSON object")
    return value


def error_of(result: Any) -> dict[str, str] | None:
    """The `{"type", "message"}` of an exception stored as a result, else None."""
    if isinstance(result, dict) and result.get(EXCEPTION_MARKER):
        return {"type": str(result.get("type", "Exception")), "message": str(result.get("message", ""))}
    return None
