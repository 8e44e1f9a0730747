"""What the machinery relies on in arq 0.28 and redis-py 5, pinned: an upgrade that changes any of it fails
here first. Each test names the module of `arqkit/internals/` that relies on it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import arq
import orjson
import pytest
import redis.asyncio
from arq import constants
from arq.connections import ArqRedis
from arq.jobs import serialize_result
from arq.worker import Worker
from redis.asyncio.client import Pipeline

from arqkit import keys
from arqkit.internals import log_redaction, reconnect, wakeup
from arqkit.internals.connection import create_api_redis
from arqkit.internals.result_tap import ResultTap
from arqkit.serializer import deserialize, serialize
from tests.service.settings import Settings
from tests.service.worker import WorkerSettings

SRC = Path(__file__).resolve().parents[2] / "src"
INTERNALS = SRC / "arqkit/internals"


def test_arq_version_is_the_pinned_one() -> None:
    assert arq.VERSION == "0.28.0"


def test_arq_is_imported_only_behind_its_door() -> None:
    """`arqkit/internals/` is the one place of the package that imports arq."""
    importers = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name == "arq" or name.startswith("arq.") for name in names):
                importers.append(path)
    assert importers, "the scan found no arq import at all: it scans the wrong place"
    assert all(INTERNALS in path.parents for path in importers), sorted(
        str(p.relative_to(SRC)) for p in importers if INTERNALS not in p.parents
    )


def test_keys_spells_arqs_key_layout_as_arq_does() -> None:
    """keys.py spells arq's names itself, so nothing outside internals/ imports arq for them."""
    assert keys.job("x") == constants.job_key_prefix + "x"
    assert keys.result("x") == constants.result_key_prefix + "x"
    assert keys.retry("x") == constants.retry_key_prefix + "x"
    assert keys.in_progress("x") == constants.in_progress_key_prefix + "x"
    assert keys.health_check("q") == "q" + constants.health_check_key_suffix
    assert keys.host_health_check("q", "pod-1").startswith(keys.health_check("q"))
    assert constants.abort_jobs_ss == keys.ABORT_SET
    assert constants.default_queue_name == keys.ARQ_DEFAULT_QUEUE


def test_worker_accepts_every_hook_and_setting_we_pass() -> None:
    accepted = set(inspect.signature(Worker).parameters)
    ours = {k for k in vars(WorkerSettings) if not k.startswith("__")}

    assert ours <= accepted, ours - accepted


def test_worker_settings_are_in_the_class_dict_not_inherited() -> None:
    """internals/worker.py: arq reads `__dict__` only (#472)."""
    assert "functions" in WorkerSettings.__dict__
    tap = WorkerSettings.__dict__["ctx"]["result_tap"]
    assert isinstance(tap, ResultTap)
    assert WorkerSettings.__dict__["job_serializer"] == tap.serialize
    assert WorkerSettings.__dict__["job_deserializer"] is deserialize


def test_each_worker_settings_class_has_its_own_result_tap() -> None:
    """No module-level tap: two workers in one process never share (or lose) each other's failures."""
    from tests.service.worker import BulkWorkerSettings, CriticalWorkerSettings

    taps = {
        id(s.__dict__["ctx"]["result_tap"])
        for s in (WorkerSettings, CriticalWorkerSettings, BulkWorkerSettings)
    }
    assert len(taps) == 3


def test_worker_settings_set_explicit_tries_timeout_and_result_retention() -> None:
    defaults = Settings()
    assert WorkerSettings.max_tries == defaults.max_tries
    assert WorkerSettings.job_timeout == defaults.job_timeout
    assert WorkerSettings.keep_result == defaults.keep_result_seconds
    assert WorkerSettings.job_completion_wait > 0
    assert WorkerSettings.health_check_interval <= 10


def test_arq_polls_the_queue_with_the_zrangebyscore_call_the_wakeup_intercepts() -> None:
    """internals/wakeup.py intercepts the poll, which arq makes as
    `pool.zrangebyscore(queue, min=-inf, start=offset, num=count, max=now)`."""
    source = inspect.getsource(Worker._poll_iteration)
    assert "self.pool.zrangebyscore(" in source
    call = source[source.index("self.pool.zrangebyscore(") :]
    call = call[: call.index("max=now") + len("max=now")]
    for argument in (
        "self.queue_name",
        "min=float('-inf')",
        "start=self._queue_read_offset",
        "num=count",
        "max=now",
    ):
        assert argument in call, call
    assert "zrangebyscore" in inspect.getsource(wakeup.WakeableRedis)


def test_arq_claims_a_job_with_a_watched_in_progress_key_of_the_largest_timeout_plus_10s() -> None:
    """internals/claims.py shortens and caps this key; internals/reconnect.py dooms this WATCH on a lost
    connection. arq claims with WATCH, EXISTS, MULTI, PSETEX(in_progress_timeout_s), EXEC."""
    source = inspect.getsource(Worker.start_jobs)
    assert "pipe.watch(in_progress_key)" in source
    assert "pipe.psetex(in_progress_key, int(self.in_progress_timeout_s * 1000)" in source
    init = inspect.getsource(Worker.__init__)
    assert "self.in_progress_timeout_s = (max_timeout or 0) + 10" in init


def test_arq_counts_a_try_in_the_retry_key_as_it_starts_a_job() -> None:
    """internals/claims.py `refund_try` decrements the counter arq increments as it runs a job."""
    source = inspect.getsource(Worker.run_job)
    assert "pipe.incr(retry_key_prefix + job_id)" in source


def test_serialize_result_takes_the_positional_arguments_layout_passes() -> None:
    """internals/layout.py writes an "aborted" result with these twelve positional arguments."""
    names = list(inspect.signature(serialize_result).parameters)
    assert names[:12] == [
        "function",
        "args",
        "kwargs",
        "job_try",
        "enqueue_time_ms",
        "success",
        "result",
        "start_ms",
        "finished_ms",
        "ref",
        "queue_name",
        "job_id",
    ]


def test_a_result_carries_the_fields_the_result_tap_reads() -> None:
    """internals/result_tap.py reads these keys of the dict arq hands the serializer."""
    seen: list[dict[str, object]] = []

    def spy(data: dict[str, object]) -> bytes:
        seen.append(data)
        return serialize(data)

    serialize_result(
        "f", (1,), {"k": 2}, 3, 10, False, ValueError("no"), 11, 12, "ref", "q", "id-1", serializer=spy
    )

    assert {"s", "r", "f", "a", "k", "t", "et", "st", "ft", "q", "id"} <= set(seen[0])
    assert seen[0]["s"] is False
    assert isinstance(seen[0]["r"], ValueError)
    assert seen[0]["id"] == "id-1"


def test_redis_pipeline_has_the_state_the_reconnecting_pipeline_overrides() -> None:
    """internals/reconnect.py: `WatchSafePipeline` reads `watching`, `explicit_transaction` and
    `command_stack`, and overrides `immediate_execute_command`, `execute_command`, `execute`, `reset`."""
    pipe = Pipeline(redis.asyncio.ConnectionPool(), {}, True, None)
    assert pipe.watching is False
    assert pipe.explicit_transaction is False
    assert pipe.command_stack == []
    for method in ("immediate_execute_command", "execute_command", "execute", "reset"):
        assert method in vars(Pipeline), method
        assert method in vars(reconnect.WatchSafePipeline), method


async def test_enqueue_job_returns_none_for_an_existing_id(settings: Settings, redis_client: object) -> None:
    pool: ArqRedis = create_api_redis(settings)
    try:
        assert await pool.enqueue_job("notify", _job_id="same") is not None
        assert await pool.enqueue_job("notify", _job_id="same") is None
    finally:
        await pool.aclose()


def test_serializer_stores_exceptions_as_type_and_message_only() -> None:
    data = orjson.loads(serialize({"r": ValueError("bad month")}))

    assert data["r"] == {"__exception__": True, "type": "ValueError", "message": "bad month"}


@pytest.mark.parametrize("raw", [b"\x80\x04garbage", b"[1, 2]", b"not json"])
def test_the_deserializer_refuses_anything_but_a_json_object(raw: bytes) -> None:
    with pytest.raises((ValueError, orjson.JSONDecodeError)):
        deserialize(raw)


def test_arq_logs_job_arguments_and_results_with_the_formats_the_redaction_filter_knows() -> None:
    """internals/log_redaction.py blanks the third argument of exactly these two lines of `run_job`."""
    source = inspect.getsource(Worker.run_job)

    assert (
        f"logger.info('{log_redaction.JOB_START_FORMAT}', (start_ms - enqueue_time_ms) / 1000, ref, s, extra)"
        in source
    )
    assert (
        f"logger.info('{log_redaction.JOB_SUCCESS_FORMAT}', (finished_ms - start_ms) / 1000, ref, result_str)"
        in source
    )


def test_arqs_worker_functions_log_through_its_module_logger() -> None:
    """`quiet_job_lines` replaces `arq.worker.logger`: run_job must look it up there at each call."""
    import arq.worker

    from arqkit.internals.log_redaction import quiet_job_lines

    quiet_job_lines()
    assert "logger" in Worker.run_job.__code__.co_names  # a global, looked up when it runs
    assert arq.worker.logger.info.__qualname__.startswith("_JobLinesAtDebug")
    assert arq.worker.logger.name == "arq.worker"
