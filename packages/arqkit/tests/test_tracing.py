"""OpenTelemetry across the queue: the job's span is a child of the HTTP request's span that enqueued it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from arqkit import build_worker_settings
from tests.service.app import create_app
from tests.service.context import lifespan
from tests.service.registry import REGISTRY
from tests.service.settings import Settings, get_settings
from tests.support import ROOT, settings_env

NOTIFY = {"email": "ada@example.com", "name": "Ada"}


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """The process's tracer provider, exporting to memory (a provider can be set only once)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


@pytest.fixture
def traced(
    settings: Settings, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings with tracing on, also in the environment that an in-process worker's startup reads."""
    exporter.clear()
    on = settings.model_copy(update={"tracing_enabled": True})
    for name, value in settings_env(on).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield on
    get_settings.cache_clear()


@pytest.fixture
async def traced_api(traced: Settings, redis_client: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(traced)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def _run_worker_until_idle(settings: Settings) -> None:
    """A real arq worker, in this process so that its spans reach the in-memory exporter."""
    options: dict[str, Any] = {
        name: value
        for name, value in vars(build_worker_settings(settings, REGISTRY, lifespan=lifespan)).items()
        if not name.startswith("__")
    }
    worker = Worker(**{**options, "burst": True, "handle_signals": False})
    try:
        await worker.main()
    finally:
        await worker.close()


def _one(spans: tuple[ReadableSpan, ...], kind: trace.SpanKind, name_prefix: str) -> ReadableSpan:
    [span] = [s for s in spans if s.kind == kind and s.name.startswith(name_prefix)]
    return span


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")  # inside arq's Worker.close
async def test_the_job_span_is_a_child_of_the_request_span_that_enqueued_it(
    traced: Settings, traced_api: httpx.AsyncClient, exporter: InMemorySpanExporter, sink: httpx.AsyncClient
) -> None:
    response = await traced_api.post("/notify", json=NOTIFY)
    assert response.status_code == 202

    await _run_worker_until_idle(traced)

    spans = exporter.get_finished_spans()
    request = _one(spans, trace.SpanKind.SERVER, "POST /notify")
    job = _one(spans, trace.SpanKind.CONSUMER, "job notify")  # one try: it succeeded
    assert job.status.is_ok
    assert job.parent is not None
    assert job.parent.span_id == request.context.span_id
    assert job.context.trace_id == request.context.trace_id
    assert job.attributes is not None
    assert job.attributes["messaging.message.id"] == response.json()["job_id"]


def _loaded_by(modules: str, prefix: str) -> list[str]:
    """The modules starting with `prefix` that a fresh interpreter has loaded after importing `modules`."""
    code = f"import sys, {modules}; print(' '.join(m for m in sys.modules if m.startswith({prefix!r})))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_with_tracing_off_neither_the_api_nor_the_worker_loads_the_opentelemetry_sdk() -> None:
    assert _loaded_by("tests.service.app, tests.service.worker", "opentelemetry.sdk") == []


def test_a_worker_with_tracing_off_imports_no_opentelemetry_at_all() -> None:
    assert _loaded_by("tests.service.worker, arqkit.hooks", "opentelemetry") == []
