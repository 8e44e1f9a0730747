"""Job ids are capabilities: whoever knows one may read the job (`GET /jobs/{id}`) and abort it
(`DELETE /jobs/{id}`). An id the service derives from what a client knows (an idempotent charge's
`Idempotency-Key`, a dead letter's id for its replay) is therefore keyed with `JOB_ID_SECRET` (HMAC-SHA256):
the same inputs give the same id on every process, and no one without the secret can compute it.

Ids arq makes itself are random (uuid4). Cron ticks keep arq's `name:<tick ms>` (its once-per-tick
uniqueness needs it) and are internal: the public job routes answer 404 for them (`is_internal`).
"""

from __future__ import annotations

import hashlib
import hmac

from arqkit.registry import Registry
from arqkit.settings import QueueSettings

# Development and tests only: production refuses an empty JOB_ID_SECRET (settings.py).
DEVELOPMENT_SECRET = b"arqkit-development-job-id-secret"


def derive(settings: QueueSettings, *parts: str) -> str:
    """32 hex characters (128 bits) of HMAC-SHA256(JOB_ID_SECRET, parts joined by NUL)."""
    secret = settings.job_id_secret.get_secret_value().encode() or DEVELOPMENT_SECRET
    return hmac.new(secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def is_internal(registry: Registry, job_id: str, function: str | None = None) -> bool:
    """A job the service runs for itself (a cron tick): not for the public job routes. By its id's shape
    (`<cron job>:<digits>`, arq's cron id) before any Redis work, and by its function once it is read."""
    scheduled = {definition.name for definition in registry.scheduled()}
    if function is not None and function in scheduled:
        return True
    name, _, tick = job_id.rpartition(":")
    return name in scheduled and tick.isdigit()
