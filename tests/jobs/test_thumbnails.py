"""The CPU-bound example: `make_thumbnail` runs in the worker's process pool (the testing kit's worker)."""

from __future__ import annotations

import base64

from arqkit.testing import JobKit

from jobs.tasks.thumbnails import make_thumbnail


async def test_a_thumbnail_is_the_image_averaged_in_blocks(job_kit: JobKit) -> None:
    image = bytes([0, 100] * 8 + [200, 50] * 8) * 8  # 16x16: rows alternate two patterns
    run = await job_kit.run(make_thumbnail, image=base64.b64encode(image).decode(), scale=2)

    assert run.status == "complete"
    assert (run.result["width"], run.result["height"]) == (8, 8)
    status = await job_kit.queue.status(run.job_id)
    assert status.progress == 1.0  # reported from the pool's process


async def test_an_image_that_is_not_square_fails_at_once_without_retries(job_kit: JobKit) -> None:
    run = await job_kit.run(make_thumbnail, image=base64.b64encode(b"abc").decode(), scale=2)

    assert (run.status, run.tries) == ("failed", 1)
    assert run.error is not None
    assert "square image" in run.error.message
