"""What the operator CLI prints: aligned tables for a person, the same data as JSON for a script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from arqkit.admin import JobDetail, QueueOverview
from arqkit.dead_letters import DeadLetterPage
from arqkit.errors import (
    DeadLetterNotFound,
    EditedArgumentsInvalid,
    JobNotEditable,
    JobNotFound,
    QueueError,
    ReplayConflict,
    UnknownQueue,
)
from arqkit.replay_edits import ArgumentChange, ReplayPreview, ReplayRecord

ERROR_CHARS = 60  # an error's text in a table cell; `job JOB_ID` shows it whole


@dataclass(frozen=True)
class Output:
    data: Any  # what `--json` prints
    text: str  # what a person reads


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    if not rows:
        return empty
    cells = [list(headers), *([str(value) for value in row] for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    numeric = [all(isinstance(row[column], int) for row in rows) for column in range(len(headers))]

    def line(values: list[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join(line(values) for values in cells)


def queues(overview: list[QueueOverview]) -> Output:
    headers = ("queue", "queued", "deferred", "in progress", "dead", "workers", "paused", "problem")
    rows = [
        (
            q.name,
            q.queued,
            q.deferred,
            q.in_progress,
            q.dead,
            q.workers_alive,
            _yes(q.paused),
            _problem(q),
            q.key,
        )
        for q in overview
    ]
    return Output(
        [q.model_dump(mode="json") for q in overview], table((*headers, "redis key"), rows, "no queues")
    )


def _problem(queue: QueueOverview) -> str:
    return "jobs wait, no live worker" if queue.unserved else "-"


def dead_letters(page: DeadLetterPage) -> Output:
    headers = ("job id", "function", "error", "tries", "failed at")
    rows = [
        (d.job_id, d.function, _short(_error_text(d.error)), d.tries, _when(d.failed_at_ms))
        for d in page.items
    ]
    return Output(page.model_dump(mode="json"), table(headers, rows, "no dead letters"))


def replayed_one(
    original: str,
    job_id: str,
    status: str,
    warning: str | None = None,
    changes: list[ArgumentChange] | None = None,
) -> Output:
    data: dict[str, Any] = {"job_id": job_id, "status": status, "replay_of": original, "warning": warning}
    text = f"replayed {original} as {job_id} ({status})"
    if changes is not None:
        data["changes"] = [change.model_dump(mode="json") for change in changes]
        text += f" with edited arguments: {', '.join(c.field for c in changes) or 'none changed'}"
    return Output(data, text if warning is None else f"{text}\nwarning: {warning}")


def replay_preview(preview: ReplayPreview) -> Output:
    """The diff of an edited replay, one line per changed argument: `name: before -> after`."""
    lines = [f"replay {preview.replay_of} ({preview.function}) with these changes:"]
    for change in preview.changes:
        before, after = _plain(change.before), _plain(change.after)
        if change.change == "added":
            lines.append(f"  + {change.field}: {after}")
        elif change.change == "removed":
            lines.append(f"  - {change.field}: {before}")
        else:
            lines.append(f"  {change.field}: {before} -> {after}")
    if not preview.changes:
        lines.append("  (no argument changes)")
    return Output(preview.model_dump(mode="json"), "\n".join(lines))


def replayed_window(job_ids: list[str]) -> Output:
    text = "\n".join([f"replayed {len(job_ids)} dead letter(s)", *job_ids])
    return Output({"count": len(job_ids), "job_ids": job_ids}, text)


def job(detail: JobDetail, prog: str = "python -m jobs") -> Output:
    """The public status, one line per failed try, the last try's traceback, then the dead letter.
    (`--json` has every try's traceback.)"""
    status: dict[str, Any] = {"status": "expired"}
    if detail.status:
        status = detail.status.model_dump(mode="json", by_alias=True)
    steps = status.pop("steps", None)  # a flow's: one line each, by stage
    lines = [f"{key:<12} {_plain(value)}" for key, value in {"job_id": detail.job_id, **status}.items()]
    if steps:
        lines += ["", "steps (a stage's run at once, each stage after the one before):"]
        lines += [f"  {s['stage']}  {s['function']:<24} {s['status']:<12} {s['job_id']}" for s in steps]
    tries = detail.failed_tries
    if tries:
        lines += ["", "failed tries:"]
        lines += [f"  try {failed.get('try')}: {_short(_error_text(failed))}" for failed in tries]
        lines += ["", f"traceback of try {tries[-1].get('try')}:"]
        lines += [f"    {row}" for row in str(tries[-1].get("traceback") or "").rstrip().splitlines()]
    if detail.dead_letter is not None:
        since, job_id = _when(detail.dead_letter.failed_at_ms), detail.job_id
        lines += ["", f"dead letter since {since}: replay with `{prog} replay {job_id}`"]
    for record in (detail.replayed_from, detail.replay):
        if record is not None:
            lines += ["", _replay_line(detail.job_id, record)]
    return Output(detail.model_dump(mode="json", by_alias=True), "\n".join(lines))


def _replay_line(job_id: str, record: ReplayRecord) -> str:
    side = f"replayed as {record.job_id}" if record.replay_of == job_id else f"replay of {record.replay_of}"
    if not record.edited:
        return f"{side} at {record.at:%Y-%m-%d %H:%M:%SZ}"
    who = record.operator or "-"
    fields = ", ".join(change.field for change in record.changes) or "none"
    return f"{side}, arguments edited by {who} (via {record.via}) at {record.at:%Y-%m-%d %H:%M:%SZ}: {fields}"


def describe(exc: QueueError) -> str:
    """One line for a named error of the queue."""
    if isinstance(exc, JobNotFound):
        return f"no such job: {exc} (unknown id, or its result has expired)"
    if isinstance(exc, DeadLetterNotFound):
        return f"no such dead letter: {exc}"
    if isinstance(exc, UnknownQueue):
        return f"no such queue: {exc} (default, critical or bulk)"
    if isinstance(exc, EditedArgumentsInvalid):
        return f"invalid arguments, nothing replayed: {exc}"
    if isinstance(exc, JobNotEditable | ReplayConflict):
        return f"not replayed: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _error_text(error: dict[str, Any]) -> str:
    return f"{error.get('type', '')}: {error.get('message', '')}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ERROR_CHARS else flat[: ERROR_CHARS - 1] + "…"


def _when(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value if isinstance(value, str) else str(value)
