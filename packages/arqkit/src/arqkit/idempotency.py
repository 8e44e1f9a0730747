"""Idempotency keys at the HTTP edge: the same key maps to the same job id; reusing it with a different
request body is an error, not a silent second job."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from arqkit import keys
from arqkit.errors import IdempotencyKeyReused


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def job_id_for(redis: Redis, scope: str, key: str, body: str, ttl_seconds: int) -> str:
    """The job id for `key` in `scope`, recording the body's fingerprint the first time the key is seen."""
    key_digest = _digest(scope, key)
    fingerprint = _digest(body)
    record = keys.idempotency(scope, key_digest)
    if not await redis.set(record, fingerprint, nx=True, ex=ttl_seconds):
        seen = await redis.get(record)
        if seen is not None and seen.decode() != fingerprint:
            raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was already used with a different body")
    return f"{scope}-{key_digest[:32]}"
