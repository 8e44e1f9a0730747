"""Keep job arguments and results out of arq's own log lines.

arq logs each start as `→ <id>:<function>(<arguments>)` and each success as `← <id>:<function> ● <result>`
at INFO, so an email address passed to a job lands in every log store the lines reach. This filter, on
the log handler, blanks those two fields unless `LOG_JOB_ARGUMENTS=true`. It relies on arq's format
strings for those lines (`Worker.run_job`), pinned in tests/core/internals/test_arq_contract.py.
"""

from __future__ import annotations

import logging

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
