"""Our own log lines take a short path through the formatter (jobs/core/logs.py); what it writes, and the
record other handlers see, must be what structlog's full `ProcessorFormatter` path gives."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from jobs.core.logs import configure_logging
from settings import Settings


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[tuple[io.StringIO, Records, logging.Handler]]:
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging(Settings(log_format="json"))
    ours = root.handlers[0]
    assert isinstance(ours, logging.StreamHandler)
    stream = io.StringIO()
    ours.setStream(stream)
    records = Records()  # a team's handler (Sentry's, say), added after ours
    root.addHandler(records)
    try:
        yield stream, records, ours
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.configure(**config)
        root.handlers[:] = handlers
        root.setLevel(level)


def test_our_line_reads_as_structlogs_own_formatter_writes_it(
    logged: tuple[io.StringIO, Records, logging.Handler],
) -> None:
    stream, records, ours = logged
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.get_logger("api.access").info("request", route="/signup", status=202)

    line = json.loads(stream.getvalue())
    assert line.pop("timestamp")
    assert line == {
        "event": "request",
        "route": "/signup",
        "status": 202,
        "request_id": "req-1",
        "level": "info",
        "logger": "api.access",
    }
    (record,) = records.records
    assert isinstance(record.msg, dict)
    assert record.msg["event"] == "request"
    full_path = structlog.stdlib.ProcessorFormatter.format(ours.formatter, record)  # type: ignore[arg-type]
    assert json.loads(full_path) == json.loads(stream.getvalue())


def test_foreign_lines_and_tracebacks_take_the_full_path(
    logged: tuple[io.StringIO, Records, logging.Handler],
) -> None:
    stream, _, _ = logged
    logging.getLogger("uvicorn.error").warning("started %s", "server")
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("api").exception("failed")

    foreign, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert foreign["event"] == "started server"
    assert foreign["logger"] == "uvicorn.error"
    assert failed["event"] == "failed"
    assert "ValueError: boom" in failed["exception"]
