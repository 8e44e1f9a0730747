"""Idempotency keys at the HTTP edge: the same key maps to the same job id; reusing it with a different
request body is an error, not a silent second job.

The job id is keyed with JOB_ID_SECRET (`job_ids.derive`): a job id is a capability (read, abort), and a
client's key (often an order number) must not let anyone else compute it. The record keeps the id it
mapped to, so a key first seen before a change of secret (or of this scheme) keeps its job.

With a unique job (`unique.py`), a key whose job exists answers that job; a new key's enqueue meets the
unique lock like any other and answers the lock's holder (its own id is then used by no job).
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from arqkit import job_ids, keys
from arqkit.errors import IdempotencyKeyReused
from arqkit.settings import QueueSettings


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def job_id_for(
    redis: Redis, scope: str, key: str, body: str, ttl_seconds: int, settings: QueueSettings
) -> str:
    """The job id for `key` in `scope`, recording the body's fingerprint (and the id) the first time the
    key is seen."""
    key_digest = _digest(scope, key)
    fingerprint = _digest(body)
    record = keys.idempotency(scope, key_digest)
    job_id = f"{scope}-{job_ids.derive(settings, 'idempotency', scope, key)}"
    if await redis.set(record, f"{fingerprint} {job_id}", nx=True, ex=ttl_seconds):
        return job_id
    seen = await redis.get(record)
    if seen is None:
        return job_id  # expired between the two calls: the key is free again
    seen_fingerprint, _, seen_id = seen.decode().partition(" ")
    if seen_fingerprint != fingerprint:
        raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was already used with a different body")
    # A record without an id was written before ids were keyed: its job has the old, unkeyed id.
    return seen_id or f"{scope}-{key_digest[:32]}"
