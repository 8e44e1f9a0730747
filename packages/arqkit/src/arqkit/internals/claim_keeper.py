"""Claims of running jobs stay alive whatever a job does to the event loop; a blocked loop is reported.

A job that blocks the loop (CPU work or `time.sleep` in an `async def`) would stop a heartbeat that runs
on it; the claims it renews then expire and another worker runs the same job again. So the claims are
renewed by a daemon thread with its own blocking Redis connection (`ClaimKeeper`), each until its job's
deadline (`claims.RunningJobs`: timeout plus `CLAIM_GRACE_SECONDS` from its start). Past that, the thread
lets the claim expire: a stuck worker gives its job up and another may take it (the late finish, if any,
is dropped by lua/finish.lua). Each renewal checks that the claim is still this worker's
(lua/renew_claims.lua). The thread holds the GIL only briefly: pure-Python CPU work in a job leaves it
its turn (every `sys.getswitchinterval()`); C code that holds the GIL for long (rare) would starve it.

The same thread is a watchdog: it asks the loop to answer (`call_soon_threadsafe`) and logs
"event loop blocked", naming the jobs running, once the loop has not answered for
`WORKER_BLOCKED_LOOP_SECONDS`, then how long it was blocked when it answers again.

Stopping: a blocked loop cannot run arq's SIGTERM handler until the blocking call returns (Python runs
only a C-level flag and our wrapper of the handler meanwhile). The thread sees the signal through that
wrapper: if the loop stays blocked past `JOB_COMPLETION_WAIT_SECONDS` (what arq would wait for its jobs)
plus `WORKER_BLOCKED_LOOP_SECONDS`, it lets this worker's claims go and ends the process (`os._exit(1)`),
as a SIGKILL would: the job runs again elsewhere, as its next try. The thread never keeps a process alive.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from arqkit import keys, lua
from arqkit.internals.claims import RunningJob, RunningJobs, claim_seconds, renewal_seconds
from arqkit.settings import QueueSettings

log = structlog.get_logger("jobs.worker")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
JOIN_SECONDS = 2.0


class ClaimKeeper:
    """One worker's claim renewals and loop watchdog, in a daemon thread. `start` on the loop, `stop` once."""

    def __init__(self, running: RunningJobs, redis: SyncRedis, settings: QueueSettings) -> None:
        self.running = running
        self._redis = redis
        self._renew = redis.register_script(lua.source("renew_claims"))
        self._claim_ms = int(claim_seconds(settings) * 1000)
        self._interval = renewal_seconds(settings)
        self._blocked_after = settings.worker_blocked_loop_seconds
        self._stop_wait = settings.job_completion_wait_seconds + settings.worker_blocked_loop_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arqkit-claim-keeper", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probe_sent: float | None = None  # monotonic; None: the loop answered the last probe
        self._reported = False  # "event loop blocked" logged for the current probe
        self._let_go: set[str] = set()
        self._redis_down = False
        self._stop_requested: float | None = None
        self._previous_handlers: dict[int, Any] = {}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watch_stop_signals()
        self._thread.start()

    def stop(self) -> None:
        """End the thread (within a Redis timeout at worst) and give the signal handlers back."""
        self._stopped.set()
        for signum, previous in self._previous_handlers.items():
            signal.signal(signum, previous)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(JOIN_SECONDS)
        self._redis.close()

    def _run(self) -> None:
        next_renewal = 0.0
        while not self._stopped.wait(min(0.25, self._blocked_after / 4)):
            now = time.monotonic()
            try:
                self._watch_loop(now)
                if now >= next_renewal:
                    next_renewal = now + self._interval
                    self._renew_claims(now)
            except Exception:  # never let the thread die: the claims depend on it
                log.exception("claim keeper failed; will retry")

    def _renew_claims(self, now: float) -> None:
        jobs = self.running.snapshot()
        live = {job_id: job for job_id, job in jobs.items() if job.deadline > now}
        for job_id in jobs.keys() - live.keys() - self._let_go:
            log.warning(
                "job past its timeout and grace: its claim is no longer renewed, another worker may run it",
                job_id=job_id,
                function=jobs[job_id].function,
            )
        self._let_go = jobs.keys() - live.keys()
        if live:
            self._send(live, self._claim_ms)

    def _send(self, jobs: dict[str, RunningJob], claim_ms: int) -> None:
        try:
            self._renew(
                keys=[keys.in_progress(i) for i in jobs],
                args=[claim_ms, *(j.claim or "" for j in jobs.values())],
            )
        except (RedisError, OSError) as error:
            if not self._redis_down:
                log.warning("claim keeper cannot reach Redis; will retry", error=repr(error))
            self._redis_down = True
            return
        if self._redis_down:
            log.info("claim keeper reaches Redis again")
        self._redis_down = False

    def _watch_loop(self, now: float) -> None:
        sent = self._probe_sent
        if sent is None:  # the last probe was answered: send the next
            self._probe_sent = now
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._answered, now)
            except RuntimeError:  # the loop is closed: the worker is gone
                self._stopped.set()
            return
        if now - sent >= self._blocked_after and not self._reported:
            self._reported = True
            log.warning(
                "event loop blocked: a job runs blocking code in an async def (use a plain def, or "
                "executor='process' for CPU work)",
                blocked_s=round(now - sent, 1),
                jobs=self._describe(),
            )
        if self._stop_requested is not None and now - max(sent, self._stop_requested) >= self._stop_wait:
            self._exit_blocked(now - sent)

    def _answered(self, sent: float) -> None:
        """Runs on the loop: it is turning."""
        if self._reported:
            log.warning(
                "event loop unblocked", blocked_s=round(time.monotonic() - sent, 1), jobs=self._describe()
            )
        self._reported = False
        self._probe_sent = None

    def _describe(self) -> list[dict[str, str | None]]:
        return [{"job_id": i, "function": job.function} for i, job in self.running.snapshot().items()]

    def _watch_stop_signals(self) -> None:
        """Note a stop signal even while the loop is blocked: wrap the handler arq's loop installed (a
        worker that handles no signals, as in the testing kit, keeps the default one: nothing to wrap)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if not callable(signal.getsignal(signal.SIGTERM)):
            return
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            if callable(previous):
                self._previous_handlers[signum] = previous
                signal.signal(signum, self._noting(previous))

    def _noting(
        self, previous: Callable[[int, FrameType | None], Any]
    ) -> Callable[[int, FrameType | None], Any]:
        def handler(signum: int, frame: FrameType | None) -> Any:
            if self._stop_requested is None:
                self._stop_requested = time.monotonic()
            return previous(signum, frame)

        return handler

    def _exit_blocked(self, blocked_seconds: float) -> None:
        log.error(
            "stop requested but the event loop stayed blocked: exiting, the jobs will run again elsewhere",
            blocked_s=round(blocked_seconds, 1),
            jobs=self._describe(),
        )
        jobs = self.running.snapshot()
        if jobs:
            self._send(jobs, 1)  # their claims go now, not a claim's lifetime later
        os._exit(1)
