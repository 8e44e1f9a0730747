"""Prometheus: the HTTP request counts, and the `/metrics` text built from the shared sums in Redis.

Each API process counts its requests in memory and flushes them with `arqkit.metrics` (as the workers
do with their jobs), so every process answers a scrape with the same cluster-wide numbers: run as many
uvicorn workers or replicas as you like and scrape any one of them. Gauges (queue depth, workers) are
read from Redis at scrape time. With Redis away, a scrape still answers, with what the process knows:
`redis_up 0` and the standard process metrics (CPU, memory, open files, Python's GC), so an outage does not
hide its own numbers.

Every series that can be known in advance is there from the first scrape, at 0 until it counts (`Known`):
each job counter and histogram for every registered function on every queue, and each route's request
count for every status its OpenAPI entry documents. Prometheus's `rate()` and `increase()` see a series'
first event only if the series existed before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.registry import Collector

from arqkit import metrics
from arqkit.admin import MetricsSnapshot
from arqkit.overview import QueueDepth
from arqkit.web.middleware import RequestObserver

# Gauge name -> (help, field of `QueueDepth`), one series per queue.
_PER_QUEUE_GAUGES = {
    "jobs_queue_depth": ("Jobs due now and waiting for a worker.", "queued"),
    "jobs_queue_deferred": ("Jobs due later (a deferred enqueue, or a retry's backoff).", "deferred"),
    "jobs_in_progress": ("Due jobs a worker holds a claim on: running, or about to start.", "in_progress"),
    "jobs_queue_oldest_age_seconds": ("The oldest waiting job's wait.", "oldest_queued_age_seconds"),
    "jobs_workers_alive": ("Workers with a fresh heartbeat.", "workers_alive"),
    "jobs_queue_paused": ("1 while the queue is paused (its workers take no new job).", "paused"),
}


def request_observer(batch: metrics.MetricsBatch) -> RequestObserver:
    """Count each request by method, route template (`/jobs/{job_id}`, never the raw path) and status;
    `RequestMiddleware` calls it once per request."""

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        batch.inc(metrics.HTTP_REQUESTS, method, route, str(status))
        batch.observe(metrics.HTTP_DURATION, seconds, method, route)

    return observe


@dataclass(frozen=True)
class Known:
    """The label sets of the series that exist at 0 before their first event."""

    jobs: tuple[tuple[str, str], ...] = ()  # (function, queue)
    requests: tuple[tuple[str, str, str], ...] = ()  # (method, route, status)

    @classmethod
    def of(cls, functions: Iterable[str], queues: Iterable[str], openapi: dict[str, Any]) -> Known:
        """Every function on every queue (a job runs on whichever queue it is enqueued on), and every
        (method, route, status) the OpenAPI document lists (`app.openapi()`)."""
        jobs = tuple((function, queue) for function in sorted(set(functions)) for queue in queues)
        requests = tuple(
            (method.upper(), route, status)
            for route, operations in sorted(openapi.get("paths", {}).items())
            for method, operation in sorted(operations.items())
            for status in sorted(operation.get("responses", {}))
            if status.isdigit()
        )
        return cls(jobs, requests)


def render(snapshot: MetricsSnapshot | None, known: Known = Known()) -> bytes:
    """The Prometheus text of a snapshot (`QueueAdmin.metrics_snapshot`), or None when Redis did not
    answer, plus `redis_up` and this process's own metrics either way."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(_RedisUp(snapshot is not None))
    if snapshot is not None:
        registry.register(_Snapshot(snapshot.sums, snapshot.depths, snapshot.dead, known))
    return generate_latest(registry)


class _RedisUp(Collector):
    def __init__(self, up: bool) -> None:
        self.up = up

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "redis_up", "1 when Redis answered this scrape; 0: only process metrics follow.", int(self.up)
        )


class _Snapshot(Collector):
    def __init__(
        self, sums: dict[tuple[str, ...], float], depths: list[QueueDepth], dead: int, known: Known
    ) -> None:
        self.sums = sums
        self.depths = depths
        self.dead = dead
        self.known = known

    def collect(self) -> Iterator[Metric]:
        yield from self._gauges()
        for spec in (*metrics.COUNTERS, metrics.HTTP_REQUESTS):
            zeros: Iterable[tuple[str, ...]] = self.known.requests
            if spec in metrics.COUNTERS:
                zeros = self.known.jobs
            values = dict.fromkeys(zeros, 0.0)
            values.update(self._of(spec.name, len(spec.labels)))
            counter = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
            for labels, value in sorted(values.items()):
                counter.add_metric(list(labels), value)
            yield counter
        for spec in metrics.HISTOGRAMS:
            zeros = self.known.jobs if spec in metrics.JOB_HISTOGRAMS else self._request_routes()
            yield self._histogram(spec, zeros)

    def _of(self, name: str, label_count: int) -> dict[tuple[str, ...], float]:
        """The sums of one sample name by labels. A field with other labels is skipped: one written before
        the `queue` label was added (arqkit 0.1) stays in Redis, and must not break the scrape."""
        return {
            key[1:]: value
            for key, value in self.sums.items()
            if key[0] == name and len(key) == label_count + 1
        }

    def _request_routes(self) -> list[tuple[str, str]]:
        return sorted({(method, route) for method, route, _ in self.known.requests})

    def _gauges(self) -> Iterator[Metric]:
        for name, (help_text, field) in _PER_QUEUE_GAUGES.items():
            gauge = GaugeMetricFamily(name, help_text, labels=["queue"])
            for depth in self.depths:
                gauge.add_metric([depth.name], float(getattr(depth, field)))
            yield gauge
        yield GaugeMetricFamily(
            "jobs_dead_letters", "Dead letters kept, waiting for a replay.", value=self.dead
        )

    def _histogram(self, spec: metrics.Spec, zeros: Iterable[tuple[str, ...]]) -> HistogramMetricFamily:
        buckets: defaultdict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
        sums = dict.fromkeys(zeros, 0.0)
        for labels, value in self._of(spec.name + "_bucket", len(spec.labels) + 1).items():
            buckets[labels[:-1]][labels[-1]] = value
        sums.update(self._of(spec.name + "_sum", len(spec.labels)))
        family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
        bounds = [metrics.le_label(bound) for bound in spec.buckets]
        for labels in sorted(sums):
            counts = buckets[labels]
            family.add_metric(list(labels), [(le, counts.get(le, 0.0)) for le in bounds], sums[labels])
        return family
