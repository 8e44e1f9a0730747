"""OpenTelemetry traces that cross the queue (optional: `pip install .[otel]`, `TRACING_ENABLED=true`).

The enqueuing request's trace context rides in the job's `_meta` kwarg as W3C `traceparent` (and
`tracestate`), next to its `request_id`; the worker starts the job's span as its child. The API's own
HTTP spans come from FastAPI's built-in OpenTelemetry support, which uses the provider installed here.

Off (the default), every function returns at its first line and nothing imports `opentelemetry`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from arqkit.settings import QueueSettings

CARRIED = ("traceparent", "tracestate")  # W3C trace context fields carried in the job's `_meta`


def install(settings: QueueSettings, role: str) -> Callable[[], None] | None:
    """Export spans over OTLP/HTTP, unless a tracer provider is set up already (e.g. by
    `opentelemetry-instrument` or a test). Returns the shutdown that flushes what it installed."""
    if not settings.tracing_enabled:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return None
    resource = Resource.create({"service.name": f"{settings.tracing_service_name}-{role}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.tracing_otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def current_context(settings: QueueSettings) -> dict[str, str]:
    """The active span's context as `_meta` fields ({} with tracing off or outside any span)."""
    if not settings.tracing_enabled:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {field: carrier[field] for field in CARRIED if field in carrier}


def job_span(
    settings: QueueSettings, meta: Mapping[str, Any], ctx: Mapping[str, Any], function: str
) -> AbstractContextManager[object]:
    """The span of one try, a child of the enqueuing request's span when `_meta` carries one."""
    if not settings.tracing_enabled:
        return contextlib.nullcontext()
    from opentelemetry import propagate, trace

    parent = propagate.extract({field: str(meta[field]) for field in CARRIED if field in meta})
    return trace.get_tracer("jobs").start_as_current_span(
        f"job {function}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "arq",
            "messaging.operation.type": "process",
            "messaging.destination.name": str(ctx.get("queue_name", settings.queue_name)),
            "messaging.message.id": str(ctx["job_id"]),
            "job.function": function,
            "job.try": int(ctx["job_try"]),
        },
    )
