"""Every Redis key name the project uses, in one place.

arq's own layout (job, result, retry, in-progress, abort) is re-exported from `arq.constants` so that a
change in arq shows up here and in `tests/test_arq_contract.py`, not in string literals elsewhere.
"""

from __future__ import annotations

from arq import constants as arq_keys

PREFIX = "svc:"

ABORT_SET = arq_keys.abort_jobs_ss


def job(job_id: str) -> str:
    """arq's job definition (function, args, kwargs, enqueue time)."""
    return arq_keys.job_key_prefix + job_id


def result(job_id: str) -> str:
    return arq_keys.result_key_prefix + job_id


def retry(job_id: str) -> str:
    """arq's try counter, incremented each time a worker starts the job."""
    return arq_keys.retry_key_prefix + job_id


def in_progress(job_id: str) -> str:
    return arq_keys.in_progress_key_prefix + job_id


def health_check(queue_name: str) -> str:
    return queue_name + arq_keys.health_check_key_suffix


def job_meta(job_id: str) -> str:
    """Our per-job hash: progress, started_at, queue."""
    return f"{PREFIX}meta:{job_id}"


def idempotency(scope: str, key_digest: str) -> str:
    return f"{PREFIX}idem:{scope}:{key_digest}"


def payment_charge(payment_id: str) -> str:
    """The record of a payment's one charge: its presence is what makes charging idempotent."""
    return f"{PREFIX}charge:{payment_id}"


def digest_sent(day: str) -> str:
    return f"{PREFIX}digest:{day}"


def worker_heartbeat(worker_id: str) -> str:
    return f"{PREFIX}worker:{worker_id}"


def priority_queue(default_queue: str, priority: str) -> str:
    """The arq queue of a priority: the default queue keeps its name, the others add a suffix."""
    return default_queue if priority == "default" else f"{default_queue}:{priority}"


def rate_window(scope: str, subject: str) -> str:
    """A sliding-window log (zset: request id -> admitted at ms), e.g. ("api:signup", client digest)."""
    return f"{PREFIX}rate:{scope}:{subject}"


def concurrency_leases(name: str) -> str:
    """A counting semaphore across workers (zset: holder -> lease expiry ms)."""
    return f"{PREFIX}leases:{name}"


def wake(queue_name: str) -> str:
    """A queue's wake-up list: each enqueue pushes a token, an idle worker blocks on it (`jobs.wakeup`)."""
    return f"{PREFIX}wake:{queue_name}"


WORKERS = f"{PREFIX}workers"  # zset: worker id -> last heartbeat (s); readiness counts the fresh ones
DEAD_LETTERS = f"{PREFIX}dead"  # zset: job id -> failed at (ms)
DEAD_LETTER_DATA = f"{PREFIX}dead:data"  # hash: job id -> JSON record
METRICS = f"{PREFIX}metrics"  # hash: JSON [metric, labels...] -> count, summed from every process


def job_errors(job_id: str) -> str:
    """Admin-only hash: try -> JSON {type, message, traceback, at}. Never read by GET /jobs/{id}."""
    return f"{PREFIX}errors:{job_id}"


def recent_jobs(status: str) -> str:
    """zset: JSON summary of a finished try -> finished at (ms), newest kept (admin job lists)."""
    return f"{PREFIX}recent:{status}"
