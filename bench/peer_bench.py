"""The template against the other queue libraries' minimal apps: enqueue endpoint, worker drain, crash.

Each peer runs from its own venv (`.bench/venvs/<peer>`, made here from `bench/peers/requirements-*.txt`:
their redis-py pins differ from arq's); arq and BackgroundTasks run from the project's venv. Every
worker process is pinned to the server core and counts its own no-op jobs (`bench/peers/common.py`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import ROOT, SERVER_CORE, environment, pinned
from devtools.http_service import http_service

VENVS = ROOT / ".bench" / "venvs"
PEERS_DIR = ROOT / "bench" / "peers"
CONCURRENCY = "50"  # every worker: the template's WORKER_MAX_JOBS


@dataclass(frozen=True)
class Peer:
    """How to run one library: its venv (None: the project's), its app, its worker command."""

    name: str
    venv: str | None
    app: str
    worker: tuple[str, ...]  # argv; a first word without a slash is a script in the venv's bin/
    module: str  # defines enqueue_noops(count) and enqueue_sleep(), for bench.peers.drive
    package: str  # whose version the report names
    env: dict[str, str] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return sys.executable if self.venv is None else str(VENVS / self.venv / "bin" / "python")

    def command(self, argv: tuple[str, ...]) -> list[str]:
        if argv[0] == "python":
            return [self.python, *argv[1:]]
        return [str(Path(self.python).parent / argv[0]), *argv[1:]]


_ARQ = ("python", "-m", "arq")
_CELERY = ("celery", "-A", "bench.peers.celery_worker", "worker", "--concurrency", CONCURRENCY)
_CELERY_QUIET = ("--without-heartbeat", "--without-gossip", "--without-mingle")
_TASKIQ = ("taskiq", "worker", "bench.peers.taskiq_worker:broker", "--workers", "1")
_PEERS = "bench.peers."
PEERS = {
    peer.name: peer
    for peer in (
        Peer("template", None, "bench.app:app", (*_ARQ, "bench.workers.Template"), "bench.workers", "arq"),
        Peer(
            "arq", None, _PEERS + "arq_app:app", (*_ARQ, "bench.workers.ArqTuned"), _PEERS + "arq_app", "arq"
        ),
        # The template's worker without one piece, to price it (bench/counts.py --workers ...).
        Peer(
            "template no wrapper",
            None,
            "bench.app:app",
            (*_ARQ, "bench.workers.TemplateNoWrapper"),
            "bench.workers",
            "arq",
        ),
        Peer(
            "template no job hooks",
            None,
            "bench.app:app",
            (*_ARQ, "bench.workers.TemplateNoJobHooks"),
            "bench.workers",
            "arq",
        ),
        Peer("background", None, _PEERS + "background_app:app", ("true",), "", "fastapi"),
        Peer(
            "template core",
            None,
            _PEERS + "template_app:app",
            ("true",),
            "",
            "arq",
            {"RATE_LIMIT_ENABLED": "false"},
        ),
        Peer(
            "celery",
            "celery",
            _PEERS + "celery_app:app",
            (*_CELERY, "--pool", "threads", *_CELERY_QUIET),
            _PEERS + "celery_worker",
            "celery",
        ),
        Peer(
            "celery solo",
            "celery",
            _PEERS + "celery_app:app",
            (*_CELERY, "--pool", "solo", *_CELERY_QUIET),
            _PEERS + "celery_worker",
            "celery",
        ),
        Peer(
            "saq",
            "saq",
            _PEERS + "saq_app:app",
            ("saq", _PEERS + "saq_worker.settings"),
            _PEERS + "saq_worker",
            "saq",
        ),
        Peer(
            "streaq",
            "streaq",
            _PEERS + "streaq_app:app",
            ("streaq", "run", _PEERS + "streaq_worker:worker"),
            _PEERS + "streaq_worker",
            "streaq",
        ),
        Peer(
            "taskiq",
            "taskiq",
            _PEERS + "taskiq_app:app",
            (*_TASKIQ, "--max-async-tasks", CONCURRENCY),
            _PEERS + "taskiq_worker",
            "taskiq",
        ),
        Peer(
            "taskiq results",
            "taskiq",
            _PEERS + "taskiq_app:app",
            (
                "taskiq",
                "worker",
                _PEERS + "taskiq_results_worker:broker",
                "--workers",
                "1",
                "--max-async-tasks",
                CONCURRENCY,
            ),
            _PEERS + "taskiq_results_worker",
            "taskiq",
        ),
    )
}
VENV_PEERS = ("celery", "saq", "streaq", "taskiq")


def requirements(venv: str) -> Path:
    return PEERS_DIR / f"requirements-{venv}.txt"


def ensure_venv(venv: str, say: Callable[[str], None]) -> None:
    """Create `.bench/venvs/<venv>` from its pinned requirements, unless it already has exactly those."""
    target = VENVS / venv
    wanted = hashlib.sha256(requirements(venv).read_bytes()).hexdigest()
    stamp = target / "requirements.sha256"
    if stamp.exists() and stamp.read_text() == wanted and (target / "bin" / "python").exists():
        return
    say(f"creating {target.relative_to(ROOT)}: pip install -r {requirements(venv).relative_to(ROOT)}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements(venv))], check=True)
    stamp.write_text(wanted)


def venv_ready(venv: str) -> bool:
    return (VENVS / venv / "requirements.sha256").exists()


def package_version(peer: Peer) -> str:
    code = f"import importlib.metadata as m; print(m.version({peer.package!r}))"
    out = subprocess.run([peer.python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def _env(peer: Peer, redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = environment(redis_url, {**peer.env, **(extra or {})})
    return {**env, "PYTHONPATH": str(ROOT)}


@contextmanager
def peer_server(peer: Peer, redis_url: str, port: int, overrides: dict[str, str]) -> Iterator[str]:
    """The peer's app under the template's uvicorn settings (uvloop, httptools), pinned to the server core."""
    command = [peer.python, "-m", "uvicorn", peer.app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    env = _env(peer, redis_url, overrides)
    with http_service(pinned(command, SERVER_CORE), port, cwd=ROOT, env=env) as url:
        yield url


def _drive(peer: Peer, redis_url: str, *args: str) -> None:
    command = [peer.python, "-m", "bench.peers.drive", peer.module, *args]
    env = _env(peer, redis_url)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{peer.name}: enqueue failed:\n{done.stderr[-2000:]}")


def _start_worker(peer: Peer, redis_url: str, events: Path, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = _env(peer, redis_url, {"BENCH_EVENTS": str(events), **extra})
    return subprocess.Popen(
        pinned(peer.command(peer.worker), SERVER_CORE),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a SIGKILL takes its children too (taskiq's)
    )


def _kill(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _events(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _wait(what: str, check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return False


def measure_drain(peer: Peer, redis_url: str, jobs: int, workdir: Path, timeout: float = 120.0) -> float:
    """No-op jobs/s: `jobs` queued with the peer's own client, then one worker started; from the first job
    to the last one's end, as the worker itself records them. 0.0 when it does not finish in `timeout`."""
    events = workdir / f"drain-{peer.name.replace(' ', '-')}.events"
    events.unlink(missing_ok=True)
    _drive(peer, redis_url, "noops", str(jobs))
    process = _start_worker(peer, redis_url, events, {"BENCH_DRAIN_JOBS": str(jobs)})
    try:
        finished = _wait("drain", lambda: any(e[0] == "done" for e in _events(events)), timeout)
    finally:
        _kill(process, signal.SIGTERM)
    if not finished:
        return 0.0
    marks = {e[0]: float(e[1]) for e in _events(events)}
    return jobs / max(marks["done"] - marks["first"], 1e-6)


def measure_crash(peer: Peer, redis_url: str, cap: float, workdir: Path) -> float | None:
    """Seconds from SIGKILLing a worker mid-job until a fresh worker starts that job again (None: not within
    `cap`). The whole process group is killed, as when the machine dies."""
    events = workdir / f"crash-{peer.name.replace(' ', '-')}.events"
    events.unlink(missing_ok=True)
    doomed = _start_worker(peer, redis_url, events, {})
    try:
        _drive(peer, redis_url, "sleep")
        if not _wait("start", lambda: len(_events(events)) >= 1, 60):
            raise RuntimeError(f"{peer.name}: the crash job never started")
        time.sleep(0.5)  # mid-job, not at its first line
    finally:
        _kill(doomed)
    killed_at = time.time()
    fresh = _start_worker(peer, redis_url, events, {})
    try:
        again = _wait("restart", lambda: len(_events(events)) >= 2, cap)
    finally:
        _kill(fresh)
    return float(_events(events)[1][1]) - killed_at if again else None


def measure_signup_pickup(redis_url: str, samples: int, api_env: dict[str, str]) -> list[float]:
    """ms from sending `POST /signup` to its job's start (the `started_at` the worker's claim records, ms
    resolution), one request at a time to an idle worker as shipped; the email goes to a local mail sink."""
    import random

    import httpx
    import redis
    from arqkit import keys
    from arqkit.redis_server import free_port

    from bench.procs import api_server, worker

    sink_port = free_port()
    sink = [sys.executable, "-m", "devtools.mailsink", "--host", "127.0.0.1", "--port", str(sink_port)]
    email = {"EMAIL_API_URL": f"http://127.0.0.1:{sink_port}/send"}
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    latencies: list[float] = []
    with (
        http_service(sink, sink_port, cwd=ROOT),
        api_server(redis_url, free_port(), {**api_env, **email}) as api,
        worker(redis_url, "Template", email),
        httpx.Client(base_url=api, timeout=10) as http,
    ):
        for i in range(samples):
            time.sleep(random.uniform(0.02, 0.52))
            sent_at = time.time()
            answer = http.post("/signup", json={"email": f"ada{i}@example.com", "name": "Ada"})
            answer.raise_for_status()
            meta = keys.job_meta(answer.json()["job_id"])
            started: list[bytes | None] = [None]

            def claimed(meta: str = meta, started: list[bytes | None] = started) -> bool:
                started[0] = client.hget(meta, "started_at")  # type: ignore[assignment]
                return started[0] is not None

            if not _wait("pickup", claimed, 30):
                raise RuntimeError("a /signup job did not start within 30 s")
            latencies.append((float(started[0] or 0) - sent_at) * 1000)
    client.close()
    return latencies


CRASH_PEERS = ("template", "arq", "celery", "saq", "streaq", "taskiq")
