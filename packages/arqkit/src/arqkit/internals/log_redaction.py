"""Keep job arguments and results out of arq's own log lines, and its per-job lines out of INFO.

arq logs each start as `→ <id>:<function>(<arguments>)` and each success as `← <id>:<function> ● <result>`
at INFO, so an email address passed to a job lands in every log store the lines reach. This filter, on
the log handler, blanks those two fields unless `LOG_JOB_ARGUMENTS=true`. It relies on arq's format
strings for those lines (`Worker.run_job`), pinned in tests/internals/test_arq_contract.py.

Those two lines say what the `@job` wrapper's one line per try says (`job complete`, with `job_id`,
`function`, `try`, `duration_s`): `OnlyAtDebug` drops them unless `LOG_LEVEL=DEBUG`, so a job costs one
log line, not three. arq's other lines (start-up, shutdown, retries, aborts) stay. `quiet_job_lines`
goes one step earlier: below DEBUG, those two calls return before a `LogRecord` is built (two records
a job that the filter would only have thrown away).
"""

from __future__ import annotations

import logging
from typing import Any

import arq.worker

ARQ_LOGGER = "arq.worker"
JOB_START_FORMAT = "%6.2fs → %s(%s)%s"  # elapsed, job ref, arguments, extra
JOB_SUCCESS_FORMAT = "%6.2fs ← %s ● %s"  # elapsed, job ref, result
HIDDEN = "…"


class HideJobArguments(logging.Filter):
    """Replace the arguments of arq's start lines and the result of its success lines with `…`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ARQ_LOGGER and record.msg in (JOB_START_FORMAT, JOB_SUCCESS_FORMAT):
            args = record.args
            if isinstance(args, tuple) and len(args) >= 3 and args[2]:
                record.args = (*args[:2], HIDDEN, *args[3:])
        return True


class OnlyAtDebug(logging.Filter):
    """On arq's logger: its job start and success lines only when it logs at DEBUG."""

    def __init__(self) -> None:
        super().__init__()
        self._arq = logging.getLogger(ARQ_LOGGER)  # looked up once: getLogger takes logging's lock

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in (JOB_START_FORMAT, JOB_SUCCESS_FORMAT):
            return self._arq.isEnabledFor(logging.DEBUG)
        return True


class _JobLinesAtDebug:
    """arq's worker logger as `arq.worker` calls it: its two per-job lines return at once unless DEBUG is
    on; every other call, and every other attribute, is the logger's own."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg in _JOB_LINES and not self.logger.isEnabledFor(logging.DEBUG):
            return
        self.logger.info(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)


_JOB_LINES = (JOB_START_FORMAT, JOB_SUCCESS_FORMAT)


def quiet_job_lines() -> None:
    """Put `_JobLinesAtDebug` in front of the logger `arq.worker`'s functions use (its module's `logger`,
    pinned in tests/internals/test_arq_contract.py). Idempotent."""
    current = arq.worker.logger
    if not isinstance(current, _JobLinesAtDebug):
        arq.worker.logger = _JobLinesAtDebug(current)  # type: ignore[assignment]
