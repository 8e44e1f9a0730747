"""Every Redis key name the machinery uses, in one place: arq's layout first, then ours (under `svc:`).
A service spells its own keys in a module of its own, under a prefix of its own (the template: `app:`).

arq's names are spelled here as arq 0.28 spells them in `arq.constants`;
`tests/internals/test_arq_contract.py` pins each against arq, so an upgrade that moves one fails
there, not in production.
"""

from __future__ import annotations

# arq's layout (arq.constants)
ARQ_JOB_PREFIX = "arq:job:"  # job_key_prefix: the job's definition (function, args, kwargs, enqueue time)
ARQ_RESULT_PREFIX = "arq:result:"  # result_key_prefix
ARQ_RETRY_PREFIX = "arq:retry:"  # retry_key_prefix: the try counter, incremented as a worker starts the job
ARQ_IN_PROGRESS_PREFIX = "arq:in-progress:"  # in_progress_key_prefix: a worker's claim
ARQ_HEALTH_CHECK_SUFFIX = ":health-check"  # health_check_key_suffix
ARQ_DEFAULT_QUEUE = "arq:queue"  # default_queue_name
ABORT_SET = "arq:abort"  # abort_jobs_ss: job id -> abort requested at (ms)

PREFIX = "svc:"


def job(job_id: str) -> str:
    """arq's job definition (function, args, kwargs, enqueue time)."""
    return ARQ_JOB_PREFIX + job_id


def result(job_id: str) -> str:
    return ARQ_RESULT_PREFIX + job_id


def job_id_of_result(key: str | bytes) -> str | None:
    """The job id of a result key, None for any other key."""
    name = key.decode() if isinstance(key, bytes) else key
    return name[len(ARQ_RESULT_PREFIX) :] if name.startswith(ARQ_RESULT_PREFIX) else None


def retry(job_id: str) -> str:
    """arq's try counter, incremented each time a worker starts the job."""
    return ARQ_RETRY_PREFIX + job_id


def in_progress(job_id: str) -> str:
    return ARQ_IN_PROGRESS_PREFIX + job_id


def health_check(queue_name: str) -> str:
    return queue_name + ARQ_HEALTH_CHECK_SUFFIX


def host_health_check(queue_name: str, host: str) -> str:
    """One host's (one pod's) health key for `queue_name`: what `arq ... --check` in that pod reads.
    arq's default key is one per queue, shared and deleted by whichever worker stops first."""
    return health_check(queue_name) + ":" + host


def job_meta(job_id: str) -> str:
    """Our per-job hash: progress, started_at, queue."""
    return f"{PREFIX}meta:{job_id}"


def idempotency(scope: str, key_digest: str) -> str:
    return f"{PREFIX}idem:{scope}:{key_digest}"


def worker_heartbeat(worker_id: str) -> str:
    return f"{PREFIX}worker:{worker_id}"


def priority_queue(default_queue: str, priority: str) -> str:
    """The arq queue of a priority: the default queue keeps its name, the others add a suffix."""
    return default_queue if priority == "default" else f"{default_queue}:{priority}"


def rate_window(scope: str, subject: str) -> str:
    """A sliding-window log (zset: request id -> admitted at ms), e.g. ("api:signup", client digest)."""
    return f"{PREFIX}rate:{scope}:{subject}"


def admin_session(session_id: str) -> str:
    """A signed-in dashboard session: present while it is open (TTL: its expiry); logout deletes it."""
    return f"{PREFIX}admin-session:{session_id}"


def concurrency_leases(name: str) -> str:
    """A counting semaphore across workers (zset: holder -> lease expiry ms)."""
    return f"{PREFIX}leases:{name}"


def wake(queue_name: str) -> str:
    """A queue's wake-up list: each enqueue pushes a token; an idle worker blocks on it (internals/wakeup)."""
    return f"{PREFIX}wake:{queue_name}"


def paused(queue_name: str) -> str:
    """Present while the queue is paused: its workers take no new job (`queue_control.py`)."""
    return f"{PREFIX}paused:{queue_name}"


WORKERS = f"{PREFIX}workers"  # zset: worker id -> last heartbeat (s); readiness counts the fresh ones
DEAD_LETTERS = f"{PREFIX}dead"  # zset: job id -> failed at (ms)
DEAD_LETTER_DATA = f"{PREFIX}dead:data"  # hash: job id -> JSON record


def dead_letters_of(queue_name: str) -> str:
    """zset: job id -> failed at (ms), the dead letters of one queue (for per-queue counts)."""
    return f"{PREFIX}dead:queue:{queue_name}"


METRICS = f"{PREFIX}metrics"  # hash: JSON [metric, labels...] -> count, summed from every process


def job_errors(job_id: str) -> str:
    """Admin-only hash: try -> JSON {type, message, traceback, at}. Never read by GET /jobs/{id}."""
    return f"{PREFIX}errors:{job_id}"


def recent_jobs(status: str) -> str:
    """zset: JSON summary of a finished try -> finished at (ms), newest kept (admin job lists)."""
    return f"{PREFIX}recent:{status}"


THROUGHPUT = f"{PREFIX}throughput"  # zset: JSON sample (depth, counter totals) -> its interval's start (ms)


# Replays with edited arguments (admin.py, history.py)
def replay_record(letter_id: str) -> str:
    """A dead letter's replay, its audit record (JSON: who, when, the arguments before and after). Written
    SET NX before the enqueue: the first replay of a letter decides its arguments."""
    return f"{PREFIX}replay:{letter_id}"


def replay_origin(job_id: str) -> str:
    """The same record under the job the replay made: where it came from, who edited its arguments."""
    return f"{PREFIX}replay-origin:{job_id}"


# Flows (flows.py, lua/flow_*.lua): a chain, a group, a group with a callback; each step an ordinary job.
FLOW_ID_PREFIX = "flow-"  # a flow's id: this and 32 random hex characters (a capability, as a job id)


def flow(flow_id: str) -> str:
    """hash: the flow's spec and, per step, its status, job id, error and (until it is enqueued) payload."""
    return f"{PREFIX}flow:{flow_id}"


def flow_step(job_id: str) -> str:
    """string `<flow id> <step id>`: the flow a step's job belongs to (a replay's job too)."""
    return f"{PREFIX}flow-step:{job_id}"


# Unique jobs and per-key concurrency (unique.py, per_key.py). `digest`: a hash of the named arguments'
# values (`Arguments.digest`), under the job's name: one job's or one tenant's key never is another's.
def unique_lock(job_name: str, digest: str) -> str:
    """A unique job's lock: the holder's job id (TTL: its window, or its job key's as a backstop)."""
    return f"{PREFIX}unique:{job_name}:{digest}"


def per_key_leases(job_name: str, digest: str) -> str:
    """A per-key cap's slots (zset: holder -> lease expiry ms), as `concurrency_leases`."""
    return f"{PREFIX}key-leases:{job_name}:{digest}"


def per_key_waiting(job_name: str, digest: str) -> str:
    """A per-key cap's waiting line (zset: job id -> when it first found the cap, ms): a freed slot wakes
    its first jobs."""
    return f"{PREFIX}key-waiting:{job_name}:{digest}"
