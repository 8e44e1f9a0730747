"""structlog for the API and the worker: JSON lines in production, readable console lines in development.

Standard-library loggers (uvicorn, arq) are routed through the same processors, so every line has one
shape, and anything bound with `structlog.contextvars` (request_id, job_id, ...) appears on it. Job
arguments and results stay out of arq's lines unless `LOG_JOB_ARGUMENTS=true`.

Our own lines are rendered by structlog's processors and handed to the standard library as finished
lines ("rendering within structlog", in structlog's docs): every `logging` handler a team adds (caplog,
Sentry's integration) still sees each one, as a record whose message is the line, and the handler's
formatter renders only the foreign ones. That costs one `LogRecord` per line, not two and a formatter
pass (docs/request-path.md prices it).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from structlog.typing import Processor

from arqkit.internals.log_redaction import ARQ_LOGGER, HideJobArguments, OnlyAtDebug, quiet_job_lines
from arqkit.settings import QueueSettings


def configure_logging(settings: QueueSettings) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if settings.effective_log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=_json)
    else:
        # Plain tracebacks: with `rich` installed (schemathesis brings it), structlog would render each
        # one as a rich panel, which takes seconds of CPU on the event loop and stalls every request.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        # Below LOG_LEVEL: dropped before any work. At or above it: rendered once, then to `logging`.
        processors=[structlog.stdlib.filter_by_level, *shared, renderer, _as_finished_line],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _ForeignLinesFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    if not settings.log_job_arguments:  # arguments such as email addresses stay out of the logs
        handler.addFilter(HideJobArguments())
    # Our lines never show the caller's file and line, thread or process: skip collecting them for every
    # record (the Logging HOWTO's "Optimization" section). A no-op job's one line cost a fifth less.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker", "arq.jobs"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # our middleware logs each request
    logging.getLogger("arq").setLevel(logging.NOTSET)  # LOG_LEVEL governs arq too (its CLI sets it to INFO)
    arq_worker = logging.getLogger(ARQ_LOGGER)  # one line per job, ours: arq's two only at DEBUG
    arq_worker.filters[:] = [f for f in arq_worker.filters if not isinstance(f, OnlyAtDebug)]
    arq_worker.addFilter(OnlyAtDebug())
    quiet_job_lines()  # ... and below DEBUG, not even built


RENDERED = "structlog_rendered"  # a record attribute: its message is one of our finished lines


def _as_finished_line(logger: Any, method_name: str, line: Any) -> tuple[tuple[str], dict[str, Any]]:
    """The last processor: the rendered line (a `str`) as the `logging` call's message, marked finished."""
    return (line,), {"extra": {RENDERED: True}}


class _ForeignLinesFormatter(structlog.stdlib.ProcessorFormatter):
    """Renders the standard library's records (uvicorn, arq) through the shared processors; ours arrive
    finished and are written as they are."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, RENDERED, False):
            return record.getMessage()
        return super().format(record)


def _json(value: Any, **options: Any) -> str:
    """structlog's JSON lines through orjson (several times faster than `json.dumps` per line)."""
    return orjson.dumps(value, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
