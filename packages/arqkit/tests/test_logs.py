"""Our log lines reach every `logging` handler, finished; the standard library's get the same shape."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from arqkit.logs import configure_logging
from tests.service.settings import Settings


class Kept(logging.Handler):
    """A handler a team might add (Sentry's, an audit sink): it keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.stream = io.StringIO()  # what the service's own handler wrote, in its place of stderr

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[Kept]:
    """JSON logging as in production, plus a handler of the team's own on the root logger."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(Settings(log_format="json", log_level="INFO"))
    handler = Kept()
    [ours] = root.handlers
    assert isinstance(ours, logging.StreamHandler)
    ours.setStream(handler.stream)
    root.addHandler(handler)
    structlog.contextvars.clear_contextvars()
    try:
        yield handler
    finally:
        structlog.contextvars.clear_contextvars()
        root.handlers[:], level = saved
        root.setLevel(level)


def test_a_handler_the_team_adds_sees_our_line_finished(kept: Kept) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-1")
    structlog.get_logger("api.access").info("request", route="/notify", status=202)

    [record] = kept.records
    assert (record.name, record.levelno) == ("api.access", logging.INFO)
    line = json.loads(record.getMessage())
    assert line["event"] == "request"
    assert (line["route"], line["status"], line["request_id"]) == ("/notify", 202, "req-1")
    assert json.loads(kept.stream.getvalue()) == line  # the service's own stream has the same line


def test_a_standard_library_line_gets_the_same_shape(kept: Kept) -> None:
    structlog.contextvars.bind_contextvars(job_id="j1")
    logging.getLogger("arq.jobs").warning("something %s", "odd")

    line = json.loads(kept.stream.getvalue())
    assert (line["event"], line["level"], line["logger"], line["job_id"]) == (
        "something odd",
        "warning",
        "arq.jobs",
        "j1",
    )
    assert "timestamp" in line


def test_an_exception_is_in_the_line_once(kept: Kept) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("jobs").exception("job failed")

    [text] = kept.stream.getvalue().splitlines()
    line = json.loads(text)
    assert line["event"] == "job failed"
    assert line["exception"].count("ValueError: boom") == 1


def test_lines_below_the_level_are_not_written(kept: Kept) -> None:
    structlog.get_logger("jobs").debug("detail")
    logging.getLogger("arq.worker").debug("detail")

    assert kept.records == []
    assert kept.stream.getvalue() == ""


def test_arqs_per_job_lines_are_not_even_built_below_debug(kept: Kept) -> None:
    """arq's `→` and `←` lines say what our one line per job says: below DEBUG no record is made for them
    (issue 24: two records a job); its other lines, and both at DEBUG, are logged as before."""
    import arq.worker

    from arqkit.internals.log_redaction import JOB_START_FORMAT, JOB_SUCCESS_FORMAT

    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record)
        return record

    def job_lines() -> list[logging.LogRecord]:
        return [r for r in made if r.msg in (JOB_START_FORMAT, JOB_SUCCESS_FORMAT)]

    logging.setLogRecordFactory(counting)
    try:
        arq.worker.logger.info(JOB_START_FORMAT, 0.01, "abc:notify", "…", "")
        arq.worker.logger.info(JOB_SUCCESS_FORMAT, 0.01, "abc:notify", "…")
        assert made == []
        arq.worker.logger.info("%6.2fs ⊘ %s aborted", 0.01, "abc:notify")
        assert made[0].getMessage() == "  0.01s ⊘ abc:notify aborted"
        logging.getLogger().setLevel(logging.DEBUG)
        arq.worker.logger.info(JOB_SUCCESS_FORMAT, 0.01, "abc:notify", "…")
        assert len(job_lines()) == 1
    finally:
        logging.setLogRecordFactory(factory)
