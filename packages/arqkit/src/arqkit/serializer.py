"""JSON (orjson) in place of arq's default pickle, for jobs and results.

With pickle, anyone who can write to Redis can run code in every worker and API process. JSON cannot
carry code; an exception result is stored as its type and a safe message only.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

from arqkit.retry import PermanentError, TransientError

EXCEPTION_MARKER = "__exception__"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
META_KWARG = "_meta"  # reserved job kwarg carrying the enqueuer's context (request id, replay link)
# In a stored job the context sits beside arq's fields, not in `k`: arq reads only t/f/a/k/et, so a stock
# arq worker runs the job without an unexpected `_meta` argument. `deserialize` puts it back into the
# kwargs as `META_KWARG`, where the `@job` wrapper and every reader take it (docs/producers.md).
META_FIELD = "meta"


def exception_record(exc: BaseException) -> dict[str, Any]:
    """What a result keeps of an exception, shown on the public job status: its type and a safe message,
    never its traceback. The full message stays with the admin: in each try's history and the dead
    letter's traceback (arqkit/history.py, arqkit/dead_letters.py)."""
    return {EXCEPTION_MARKER: True, "type": type(exc).__name__, "message": public_message(exc)}


def public_message(exc: BaseException) -> str:
    """httpx's messages name the URL, and a URL can carry credentials: an HTTP error says its status
    only, a transport error its class. A `PermanentError` or `TransientError` keeps the message the
    job's author wrote for it; any other message keeps its text with every URL in it masked."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from the downstream service"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__} talking to the downstream service"
    if isinstance(exc, PermanentError | TransientError):
        return str(exc)
    return _URL.sub("<url>", str(exc)) or ("job timed out" if isinstance(exc, TimeoutError) else "")


def _encode_other(value: Any) -> Any:
    if isinstance(value, BaseException):
        return exception_record(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, default=_encode_other, option=orjson.OPT_NON_STR_KEYS)


class MalformedPayload(ValueError):
    """Stored job data that is not a payload arq can run or report: arq's "unreadable job" path ends it."""


# The fields arq reads from every job and every result, with the types its worker computes with: a list
# `f` is an unhashable dict key and a string `et` breaks arithmetic, outside arq's own error handling.
# Times (ms) stay within what `datetime` can hold (year 9999); `t` is None only in a job never tried.
_MAX_MS = 253_402_300_799_999
_REQUIRED: dict[str, tuple[type, ...]] = {"f": (str,), "a": (list,), "k": (dict,), "t": (int, type(None))}
_TIMES = ("et", "st", "ft")  # et in every payload, st/ft in results
_OPTIONAL: dict[str, tuple[type, ...]] = {"s": (bool,), "q": (str,), "id": (str,)}  # results only


def deserialize(raw: bytes) -> dict[str, Any]:
    """A job payload or result, checked field by field; anything else raises `MalformedPayload`."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedPayload("a job payload must be a JSON object")
    for name, types in _REQUIRED.items():
        _check(value, name, types, required=True)
    for name, types in _OPTIONAL.items():
        _check(value, name, types, required=False)
    _meta_into_kwargs(value)
    if "s" in value and value["t"] is None:
        raise MalformedPayload("a result's field 't' must be an integer")
    for name in _TIMES:
        _check(value, name, (int,), required=name == "et")
        if name in value and not 0 <= value[name] <= _MAX_MS:
            raise MalformedPayload(f"field {name!r} is not a time in milliseconds")
    return value


def _meta_into_kwargs(value: dict[str, Any]) -> None:
    """A job enqueued with its context beside its arguments: the context back among them, as `_meta`.
    (One enqueued by an earlier version has it among them already.)"""
    meta = value.pop(META_FIELD, None)
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise MalformedPayload(f"field {META_FIELD!r} has the wrong type ({type(meta).__name__})")
    value["k"] = {**value["k"], META_KWARG: meta}


def _check(value: dict[str, Any], name: str, types: tuple[type, ...], required: bool) -> None:
    if name not in value:
        if required:
            raise MalformedPayload(f"field {name!r} is missing")
        return
    field = value[name]
    if not isinstance(field, types) or (isinstance(field, bool) and bool not in types):
        raise MalformedPayload(f"field {name!r} has the wrong type ({type(field).__name__})")


def error_of(result: Any) -> dict[str, str] | None:
    """The `{"type", "message"}` of an exception stored as a result, else None."""
    if isinstance(result, dict) and result.get(EXCEPTION_MARKER):
        return {"type": str(result.get("type", "Exception")), "message": str(result.get("message", ""))}
    return None
