"""The worker's job payload decoder against arbitrary data: arq's `deserialize_job_raw` with our
deserializer either returns values `run_job` can compute with, or raises the one error `run_job`
handles (`SerializationError`: the job ends as failed and becomes a dead letter). Anything else would
escape `run_job` and end the worker."""

from __future__ import annotations

import json
from typing import Any

from arq.jobs import SerializationError, deserialize_job_raw
from arq.utils import ms_to_datetime, timestamp_ms
from hypothesis import given, settings
from hypothesis import strategies as st

from arqkit.internals.layout import read_job, read_result
from arqkit.serializer import deserialize

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
payload_keys = st.sampled_from(["f", "a", "k", "t", "et", "s", "st", "ft", "q", "id", "r", "meta"])
payloads = st.dictionaries(payload_keys | st.text(max_size=3), json_values, max_size=8)
well_typed = st.fixed_dictionaries(
    {
        "f": st.text(),
        "a": st.lists(scalars, max_size=3),
        "k": st.dictionaries(st.text(), scalars, max_size=3),
    },
    optional={"t": st.none() | st.integers(), "et": st.integers()},
)

well_typed_results = st.fixed_dictionaries(
    {
        "f": st.text(),
        "a": st.lists(scalars, max_size=3),
        "k": st.dictionaries(st.text(), scalars, max_size=3),
        "t": st.none() | st.integers(),
        "et": st.integers(),
        "s": st.booleans(),
        "r": json_values,
        "st": st.integers(),
        "ft": st.integers(),
    },
    optional={"q": st.text() | st.integers(), "id": st.text()},
)


def _runs_like_arq(raw: bytes) -> None:
    """What `run_job` does with the decoded fields before any of its own error handling."""
    try:
        function, args, kwargs, job_try, enqueued_ms = deserialize_job_raw(raw, deserializer=deserialize)
    except SerializationError:
        return
    {function: None}.get(function)  # the function lookup: hashable
    assert isinstance(args, list)
    assert isinstance(kwargs, dict)
    if job_try and job_try > 1:  # the try comparison
        str(job_try)
    (timestamp_ms() - enqueued_ms) / 1000  # the log line's age
    ms_to_datetime(enqueued_ms)  # ctx["enqueue_time"]


@settings(max_examples=300, deadline=None)
@given(json_values | payloads | well_typed)
def test_any_json_decodes_to_a_runnable_job_or_the_one_error_arq_handles(value: Any) -> None:
    _runs_like_arq(json.dumps(value).encode())  # stdlib: also integers past 64 bits, Infinity


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_to_a_runnable_job_or_the_one_error_arq_handles(raw: bytes) -> None:
    _runs_like_arq(raw)


@settings(max_examples=300, deadline=None)
@given(json_values | payloads | well_typed | well_typed_results)
def test_the_api_reads_any_json_as_a_job_and_a_result_or_as_unreadable(value: Any) -> None:
    """`GET /jobs/{id}` reads the same keys through arq's `deserialize_job` / `deserialize_result`."""
    raw = json.dumps(value).encode()
    job, result = read_job(raw), read_result(raw)

    if job is not None:
        assert isinstance(job.function, str)
        job.enqueue_time.isoformat()
    if result is not None:
        assert isinstance(result.function, str)
        assert isinstance(result.queue_name, str)
        assert isinstance(result.job_try, int)
        result.finish_time.isoformat()
