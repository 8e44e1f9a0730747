"""A CPU-bound job written the recommended way: a plain `def` in the worker's process pool.

CPU work in an `async def` would stop the worker's event loop (every other job waits, and the worker logs
"event loop blocked"); a plain `def` runs in a thread, which suits a blocking SDK but still holds the GIL
while it computes; `executor="process"` runs it beside the worker, `WORKER_PROCESSES` at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import zlib

from arqkit import PermanentError, job

from jobs.context import ProcessCtx


@job(executor="process", max_tries=3, timeout_seconds=120)
def make_thumbnail(ctx: ProcessCtx, image: str, scale: int) -> dict[str, str | int]:
    """Shrink a square 8-bit grayscale image (base64) `scale` times by averaging blocks of pixels: pure
    Python standing in for a real resize. Idempotent: the thumbnail depends on the inputs alone (a real
    one would be stored under its digest)."""
    try:
        pixels = base64.b64decode(image, validate=True)
    except binascii.Error as exc:
        raise PermanentError(f"image is not base64: {exc}") from exc
    side = math.isqrt(len(pixels))
    if side * side != len(pixels) or not 1 <= scale <= side:
        raise PermanentError(
            f"need a square image of at least {scale}x{scale} pixels, got {len(pixels)} bytes"
        )
    small = side // scale
    thumbnail = bytearray()
    for row in range(small):
        for column in range(small):
            block = (
                pixels[(row * scale + y) * side + column * scale + x]
                for y in range(scale)
                for x in range(scale)
            )
            thumbnail.append(sum(block) // (scale * scale))
        ctx.report_progress((row + 1) / small)
    return {
        "width": small,
        "height": small,
        "png_like_bytes": len(zlib.compress(bytes(thumbnail), 9)),
        "sha256": hashlib.sha256(thumbnail).hexdigest(),
    }
