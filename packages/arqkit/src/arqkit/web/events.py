"""`GET /jobs/{id}/events` as server-sent events: the framing, the reconnect rules, the per-process cap.

What changed and when is `arqkit.watch`'s business; this module only speaks the protocol:
each event carries `id: <fingerprint>` so a browser's automatic reconnect sends it back as
`Last-Event-ID` and gets only newer versions; a client that already has the final status is told
204 (the EventSource spec's "stop reconnecting"); a `retry:` line paces reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse

from arqkit import JobQueue, QueueUnavailable, watch
from arqkit.settings import QueueSettings
from arqkit.web.openapi import JOB_STATUS, Responses, event_stream

RETRY_MS = 1000  # how long a browser waits before it reconnects after a stream ends
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy buffering
UNAVAILABLE = 'event: unavailable\ndata: {"detail": "the job queue is unavailable"}\n\n'

LastEventId = Annotated[str | None, Header(max_length=64, description="the last event `id` you received")]

OPENAPI: Responses = {
    **JOB_STATUS,
    **event_stream(
        "One event per change of the job's status or progress, each the JSON of `GET /jobs/{id}`."
    ),
    204: {"description": "`Last-Event-ID` is the job's final status: nothing more will come."},
}


class JobEventStreams:
    """The open job event streams of one API process, made in the lifespan; at most `max_streams`.

    A stream counts from its first byte to its end (a client that disconnects ends it: Starlette
    cancels the generator), so the count never leaks; concurrent opens may pass the cap by a few.
    """

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.open = 0

    async def respond(self, queue: JobQueue, job_id: str, last_event_id: str | None) -> Response:
        if self.open >= self.settings.job_events_max_streams:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "too many open event streams", {"Retry-After": "1"}
            )
        now = await watch.current(queue, job_id)  # an unknown id is a 404 before the stream starts
        if now.final and now.id == last_event_id:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return StreamingResponse(
            self._stream(queue, job_id, last_event_id), media_type="text/event-stream", headers=HEADERS
        )

    async def _stream(self, queue: JobQueue, job_id: str, seen: str | None) -> AsyncIterator[str]:
        self.open += 1
        try:
            yield f"retry: {RETRY_MS}\n\n"
            async for change in watch.changes(
                queue,
                job_id,
                seen=seen,
                poll_seconds=self.settings.job_watch_poll_seconds,
                max_seconds=self.settings.job_events_max_seconds,
            ):
                yield f"id: {change.id}\ndata: {change.body}\n\n"
        except QueueUnavailable:
            yield UNAVAILABLE  # the browser reconnects after `retry`
        finally:
            self.open -= 1


async def get_job_streams(request: Request) -> JobEventStreams:
    streams: JobEventStreams = request.app.state.job_streams
    return streams
