"""Test your own jobs as a worker runs them, against a real Redis: a kit and the pytest fixtures for it.

Celery's eager mode calls the function in place: no serialization, no retries, no worker, so a test
passes that production fails. Here a job goes the whole way: `JobQueue.enqueue` checks and encodes its
arguments and writes the same bytes a producer writes; then a real arq worker, built by the same
`build_worker_settings` as `arq jobs.WorkerSettings` and run in this process until the queues are empty
(`internals/burst.py`), claims it, deserializes it, runs it with the worker's ctx, hooks and retry
policy, stores its result and notes a final failure as a dead letter. What a test reads back is what
`GET /jobs/{id}` and the admin view read. Only cron ticks are not simulated: run a cron job with `run`.

In your pyproject.toml, `[tool.pytest.ini_options] addopts = "-p arqkit.testing"` (loaded before your
conftest.py imports anything of the kit's, so pytest rewrites its asserts), and in `tests/conftest.py`:

    @pytest.fixture
    def job_registry() -> Registry:
        return REGISTRY

    @pytest.fixture
    def job_lifespan() -> WorkerLifespan[Settings, Resources]:
        return lifespan  # your worker lifespan: the jobs' ctx.resources

then `async def test_x(job_kit: JobKit)`. The plugin starts a throwaway redis-server (`redis_server`)
and empties it before each test; override `job_settings` to add your own settings (keep its Redis).

For end-to-end tests: `WorkerProcess` runs `arq <your WorkerSettings>` as a real child process with
your settings, `wait_for` polls a condition, `wait_for_status` polls `GET /jobs/{id}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from arqkit import keys, priorities
from arqkit.admin import QueueAdmin
from arqkit.client import JobQueue
from arqkit.context import WorkerLifespan
from arqkit.dead_letters import DeadLetter
from arqkit.internals.burst import run_until_empty
from arqkit.internals.layout import read_job
from arqkit.internals.worker import build_worker_settings
from arqkit.job import JobDefinition
from arqkit.redis_server import RedisServer
from arqkit.registry import Registry
from arqkit.serializer import META_KWARG
from arqkit.settings import QueueSettings
from arqkit.status import JobError, Status

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# An idle in-process worker looks at its queue this often, so a drain ends soon after the last job.
KIT_IDLE_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class QueuedJob:
    """A job waiting in a queue, as stored: its arguments are the JSON the worker will decode."""

    job_id: str
    function: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str


@dataclass(frozen=True)
class JobRun:
    """How a job ended, read back from Redis as `GET /jobs/{id}` and the admin view read it."""

    job_id: str
    function: str
    status: Status
    tries: int
    result: Any  # the stored JSON result, as the API shows it
    error: JobError | None
    dead_letter: DeadLetter | None
    failed_tries: list[dict[str, Any]] = field(default_factory=list)  # type, message, traceback, try


class JobKit:
    """Enqueue as producers do, then run what is queued with a real worker in this process."""

    def __init__(
        self, settings: QueueSettings, registry: Registry, lifespan: WorkerLifespan[Any, Any] | None = None
    ) -> None:
        self.settings = settings.model_copy(update={"worker_idle_wait_seconds": KIT_IDLE_WAIT_SECONDS})
        self.registry = registry
        self.lifespan = lifespan
        self.queue = JobQueue.connect(self.settings, registry)
        self.admin = QueueAdmin(self.queue)
        self.drain_timeout_seconds = 30.0  # a drain waits for deferred jobs and retries: not forever

    async def aclose(self) -> None:
        await self.queue.aclose()

    async def reset(self) -> None:
        """Empty the kit's Redis (a throwaway one: never point a kit at a Redis you keep)."""
        if self.settings.environment == "production":
            raise RuntimeError("the testing kit empties its Redis: refused with ENVIRONMENT=production")
        await self.queue.redis.flushdb()

    async def run(self, job: JobDefinition[P, R], /, *args: P.args, **kwargs: P.kwargs) -> JobRun:
        """Enqueue `job` as a producer would, run every queued job, and say how this one ended."""
        if self.registry.get(job.name) is not job:
            raise LookupError(f"{job.name} is not in the kit's registry: its worker could not run it")
        enqueued = await self.queue.enqueue(job, *args, **kwargs)
        await self.drain()
        return await self.outcome(enqueued.job_id)

    async def enqueued(self) -> list[QueuedJob]:
        """The jobs waiting in every queue, highest priority first: e.g. what a request enqueued."""
        found = []
        for name in priorities.all_queue_names(self.settings):
            for raw_id in await self.queue.redis.zrange(name, 0, -1):
                job_id = raw_id.decode()
                raw = await self.queue.redis.get(keys.job(job_id))
                job = read_job(raw) if raw is not None else None
                if job is not None:
                    kwargs = {k: v for k, v in job.kwargs.items() if k != META_KWARG}
                    found.append(QueuedJob(job_id, job.function, list(job.args), kwargs, name))
        return found

    async def drain(self) -> list[JobRun]:
        """Run every queued job, its retries and whatever it enqueues, one burst worker per busy queue,
        until every queue is empty; say how each job that was waiting ended."""
        waiting = await self.enqueued()
        async with asyncio.timeout(self.drain_timeout_seconds):
            while busy := await self._busy_priorities():
                for priority in busy:
                    worker_settings = build_worker_settings(
                        self.settings, self.registry, priority, lifespan=self.lifespan
                    )
                    await run_until_empty(worker_settings, cron_jobs=[])
        return [await self.outcome(job.job_id) for job in waiting]

    async def outcome(self, job_id: str) -> JobRun:
        detail = await self.admin.job_detail(job_id)
        status = detail.status
        assert status is not None, f"job {job_id} has no status (its result expired?)"
        return JobRun(
            job_id=job_id,
            function=status.function,
            status=status.status,
            tries=status.try_,
            result=status.result,
            error=status.error,
            dead_letter=detail.dead_letter,
            failed_tries=detail.failed_tries,
        )

    async def _busy_priorities(self) -> list[priorities.Priority]:
        names = priorities.PRIORITIES
        counts = [await self.queue.redis.zcard(priorities.queue_name(self.settings, p)) for p in names]
        return [priority for priority, count in zip(names, counts, strict=True) if count]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of the tests' own, on a free port, for the whole session."""
    with RedisServer() as server:
        yield server


S = TypeVar("S", bound=QueueSettings)


def settings_for_tests(settings_class: type[S], redis_server: RedisServer, **fields: Any) -> S:
    """Your settings for tests: environment `test`, the tests' own Redis, retries within a test's patience;
    `fields` on top."""
    defaults: dict[str, Any] = {
        "environment": "test",
        "redis_url": redis_server.url,
        "retry_base_delay_seconds": 0.05,
        "retry_max_delay_seconds": 0.2,
    }
    return settings_class(**{**defaults, **fields})


@pytest.fixture
def job_settings(redis_server: RedisServer) -> QueueSettings:
    """The settings the kit's worker runs with: override it to return yours (`settings_for_tests`)."""
    return settings_for_tests(QueueSettings, redis_server)


@pytest.fixture
def job_registry() -> Registry:
    """Your jobs: override in your conftest.py (`return REGISTRY`); the machinery never imports them."""
    raise pytest.UsageError("define a `job_registry` fixture in conftest.py that returns your Registry")


@pytest.fixture
def job_lifespan() -> WorkerLifespan[Any, Any] | None:
    """Your worker lifespan (`return lifespan`), so jobs get their `ctx.resources`; None: no resources."""
    return None


@pytest_asyncio.fixture
async def job_kit(
    job_settings: QueueSettings, job_registry: Registry, job_lifespan: WorkerLifespan[Any, Any] | None
) -> AsyncIterator[JobKit]:
    """A `JobKit` on an emptied Redis."""
    kit = JobKit(job_settings, job_registry, job_lifespan)
    await kit.reset()
    yield kit
    await kit.aclose()


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    timeout: float = 10.0,  # noqa: ASYNC109 (a deadline of its own, named as every test spells it)
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def wait_for_status(
    client: httpx.AsyncClient,
    job_id: str,
    statuses: set[str],
    timeout: float = 30.0,  # noqa: ASYNC109 (as wait_for's; generous: a loaded CI machine starts jobs late)
) -> dict[str, Any]:
    """`GET /jobs/{job_id}` until its status is one of `statuses`; the last answer. A timeout names the
    last status seen."""
    seen: list[Any] = [None]

    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/jobs/{job_id}")).json()
        seen[0] = body.get("status", body)
        return body if body.get("status") in statuses else None

    try:
        return await wait_for(probe, timeout, what=f"job {job_id} to reach {statuses}")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; its last status: {seen[0]!r}") from None


def settings_env(settings: QueueSettings) -> dict[str, str]:
    """This process's environment, with every field of `settings` set as a child process reads it."""
    fields = {name.upper() for name in type(settings).model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in fields}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # dumped as "**********"
            value = secret.get_secret_value()
        env[name.upper()] = value if isinstance(value, str) else json.dumps(value)
    return env


class WorkerProcess:
    """`arq <target>` (e.g. `jobs.WorkerSettings`) as a real child process run from `cwd`, with `settings`
    in its environment, logging JSON to `log_path`."""

    def __init__(
        self,
        settings: QueueSettings,
        log_path: Path,
        target: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.target = target
        self.env = env or {}
        self.cwd = cwd or Path.cwd()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        _STARTED.append(self)
        env = {**settings_env(self.settings), "LOG_FORMAT": "json", **self.env}
        arq = Path(sys.executable).parent / "arq"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(arq), self.target], cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, as a deploy stops a worker; SIGKILL if it has not exited after `timeout` seconds."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()


# The worker processes the running test started: a failing test's report shows the end of their logs.
_STARTED: list[WorkerProcess] = []
LOG_TAIL_LINES = 40


def pytest_runtest_setup(item: pytest.Item) -> None:
    _STARTED.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for n, worker in enumerate(_STARTED):
            tail = "\n".join(worker.log_text().splitlines()[-LOG_TAIL_LINES:])
            report.sections.append((f"worker {n} ({worker.target}) log, last lines", tail))
    if report.when == "teardown":
        _STARTED.clear()
    return report


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = [int(child) for child in (task / "children").read_text().split()]
            found += children
            pending += children
    return found
