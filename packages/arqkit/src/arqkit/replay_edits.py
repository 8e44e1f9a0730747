"""A dead letter's replay with arguments an operator corrected: checked against the job's signature before
anything is written, shown as a field-level diff, and recorded (who, when, before and after).

The edit is the whole set of arguments by name, as JSON (what the new job is called with), checked as the
worker will read it (`Arguments.edited`). A job that declares `@job(editable=False)` is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import structlog
from pydantic import BaseModel

from arqkit.dead_letters import DeadLetter
from arqkit.errors import EditedArgumentsInvalid, JobNotEditable
from arqkit.registry import Registry

log = structlog.get_logger("jobs.admin")
# How the operator was let in: the admin token, the dashboard's session, a shell (the CLI).
Via = Literal["token", "session", "cli"]


class ArgumentChange(BaseModel):
    field: str
    change: Literal["changed", "added", "removed"]
    before: Any = None
    after: Any = None


class ReplayPreview(BaseModel):
    """What a replay with these arguments would enqueue; nothing is written."""

    replay_of: str
    function: str
    before: dict[str, Any]  # the letter's arguments by name
    after: dict[str, Any]  # the new job's, as stored (JSON, checked against the signature)
    changes: list[ArgumentChange]  # only the fields that differ


class ReplayRecord(BaseModel):
    """The audit of one replay, in the letter's history and the new job's (`history.py`)."""

    replay_of: str
    job_id: str  # the new job
    function: str
    at: datetime
    operator: str | None  # the name the operator gave, if any
    via: Via | None  # None: not said (a window replay, or a caller of `QueueAdmin.replay`)
    edited: bool
    before: dict[str, Any] | None = None  # edited replays only: the letter's arguments by name
    after: dict[str, Any] | None = None
    changes: list[ArgumentChange] = []
    digest: str  # of the new job's function and arguments: a second replay with other ones is refused


def preview(registry: Registry, letter: DeadLetter, kwargs: Mapping[str, Any] | None) -> ReplayPreview:
    """The letter's arguments, the edited ones (`kwargs`; None: the letter's own, unchecked) and their diff.
    `JobNotEditable` or `EditedArgumentsInvalid` when the edit cannot be made."""
    definition = registry.get(letter.function)
    if definition is None:
        raise JobNotEditable(
            f"{letter.function!r} is not in this deployment's registry: there is no signature to check "
            "edited arguments against (replay it as it is, or discard it)"
        )
    if not definition.options.editable:
        raise JobNotEditable(
            f"{letter.function} declares editable=False: its dead letters replay only with their own "
            "arguments"
        )
    stored = definition.arguments.by_name(letter.args, letter.keyword_args)
    if stored is None:
        raise JobNotEditable(
            f"{letter.function} takes arguments that cannot be named (positional-only, *args)"
        )
    try:  # as the job reads them, so a value stored in another spelling (a date's offset) is no change
        before = definition.arguments.edited(stored)
    except EditedArgumentsInvalid:
        before = stored  # they no longer fit the signature: perhaps why the letter is being edited
    after = before if kwargs is None else definition.arguments.edited(kwargs)
    return ReplayPreview(
        replay_of=letter.job_id,
        function=letter.function,
        before=before,
        after=after,
        changes=diff(before, after),
    )


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[ArgumentChange]:
    """Field by field, in the letter's order then the new fields'; values compared as JSON (1 is not 1.0)."""
    changes = []
    for field in [*before, *(key for key in after if key not in before)]:
        if field not in after:
            changes.append(ArgumentChange(field=field, change="removed", before=before[field]))
        elif field not in before:
            changes.append(ArgumentChange(field=field, change="added", after=after[field]))
        elif _json(before[field]) != _json(after[field]):
            changes.append(
                ArgumentChange(field=field, change="changed", before=before[field], after=after[field])
            )
    return changes


def digest(function: str, args: list[Any], kwargs: Mapping[str, Any]) -> str:
    return hashlib.sha256(_json([function, args, kwargs])).hexdigest()


def record(
    letter: DeadLetter,
    job_id: str,
    edit: ReplayPreview | None,
    operator: str | None,
    via: Via | None,
    args_digest: str,
) -> ReplayRecord:
    return ReplayRecord(
        replay_of=letter.job_id,
        job_id=job_id,
        function=letter.function,
        at=datetime.now(UTC),
        operator=operator,
        via=via,
        edited=edit is not None,
        before=None if edit is None else edit.before,
        after=None if edit is None else edit.after,
        changes=[] if edit is None else edit.changes,
        digest=args_digest,
    )


def edit_meta(record: ReplayRecord) -> dict[str, Any]:
    """Kept on the new job (its meta): who edited its arguments, how they were let in, and when."""
    if not record.edited:
        return {}
    return {"edited_by": record.operator, "edited_via": record.via, "edited_at": record.at.isoformat()}


def who(record: ReplayRecord) -> str:
    """The first replay of a letter, for the refusal of another: `edited, by ada at ...`."""
    name = record.operator or (f"via {record.via}" if record.via else "an operator")
    return f"{'edited' if record.edited else 'unchanged'}, by {name} at {record.at.isoformat()}"


def log_replay(record: ReplayRecord, queue_name: str, log_arguments: bool) -> None:
    """One line per replay. Edited: who, and which fields; their values only with LOG_JOB_ARGUMENTS
    (arguments may be personal data, kept out of logs like arq's own job lines)."""
    context: dict[str, Any] = {
        "original_job_id": record.replay_of,
        "new_job_id": record.job_id,
        "queue": queue_name,
    }
    if not record.edited:
        log.info("dead letter replayed", **context)
        return
    if log_arguments:
        context.update(before=record.before, after=record.after)
    changed = [change.field for change in record.changes]
    log.warning(
        "dead letter replayed with edited arguments",
        function=record.function,
        changed=changed,
        operator=record.operator,
        via=record.via,
        **context,
    )


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
