"""A real Prometheus server scrapes a real uvicorn of the app every second, with the shipped alert rules
loaded: the documented queries return what happened, and the dead-letter alert fires on the first one.
Needs the `prometheus` binary (Debian's `prometheus` package); skips, saying so, without it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from arqkit import alerts
from arqkit.client import JobQueue
from arqkit.redis_server import free_port
from tests.service.jobs import notify
from tests.service.settings import Settings
from tests.support import WorkerProcess, serve_api

# The alert rules this package ships (arqkit/alerts/), on the metrics it writes.
RULES = alerts.RULES
EMAIL = {"function": "notify", "queue": "default"}


@pytest.fixture
def api_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serve_api(settings, tmp_path / "api.log") as url:
        yield url


@pytest.fixture
def prometheus(api_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    """Prometheus scraping the API each second and evaluating alerts.yml each second; its HTTP API."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no `prometheus` on PATH: apt-get install prometheus (Debian's package) to run this test")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "fastapi-arq-template", "static_configs": [{"targets": [api_url.split("//")[1]]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("ab") as log:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            wait_for_sync(lambda: client.get("/-/ready").status_code == 200, "Prometheus ready")
            yield client
    finally:
        server.terminate()
        server.wait(15)


def wait_for_sync(probe: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """`tests.support.wait_for` for the blocking Prometheus client, at a pace Prometheus can take."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := probe():
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def query(prometheus: httpx.Client, expr: str) -> dict[frozenset[tuple[str, str]], float]:
    """An instant query: {labels: value}."""
    body = prometheus.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", body
    return {frozenset(r["metric"].items()): float(r["value"][1]) for r in body["data"]["result"]}


def one(prometheus: httpx.Client, expr: str) -> float | None:
    found = query(prometheus, expr)
    return next(iter(found.values())) if found else None


async def test_the_documented_queries_say_what_happened_and_the_first_dead_letter_fires_its_alert(
    prometheus: httpx.Client,
    job_queue: JobQueue,
    sink: httpx.AsyncClient,
    worker: WorkerProcess,
) -> None:
    started = f'max(jobs_started_total{{function="{EMAIL["function"]}",queue="default"}})'
    # Scraped at 0 before anything happens: the series exist from the first scrape.
    wait_for_sync(lambda: one(prometheus, started) == 0, "a scrape with the series at 0")
    assert one(prometheus, 'max(jobs_dead_lettered_total{function="charge",queue="bulk"})') == 0

    await sink.post("/_control/fail", json={"status": 400, "times": 1, "to": "rejected@example.com"})
    for address in ("a@example.com", "b@example.com", "rejected@example.com"):
        await job_queue.enqueue(notify, email=address, name="Ada")

    wait_for_sync(lambda: one(prometheus, started) == 3, "the 3 tries scraped")
    mine = '{function="notify",queue="default"}[1m]'
    completed = one(prometheus, f"max by (queue, function) (increase(jobs_completed_total{mine}))")
    dead = one(prometheus, f"max by (queue, function) (increase(jobs_dead_lettered_total{mine}))")
    assert completed is not None
    assert round(completed) >= 2  # increase() extrapolates: about 2, never 0
    assert dead is not None
    assert dead > 0
    assert one(prometheus, 'max(jobs_queue_depth{queue="default"})') == 0
    assert one(prometheus, 'max(jobs_in_progress{queue="default"})') == 0

    firing = 'ALERTS{alertname="JobDeadLettersAppearing",alertstate="firing",function="notify"}'
    labels = wait_for_sync(lambda: query(prometheus, firing), "the dead-letter alert firing")
    assert dict(next(iter(labels)))["queue"] == "default"
