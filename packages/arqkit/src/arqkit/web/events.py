"""`GET /jobs/{id}/events` as server-sent events: the framing, the reconnect rules, the per-process cap.

What changed and when is `arqkit.watch`'s business; this module only speaks the protocol:
each event carries `id: <fingerprint>` so a browser's automatic reconnect sends it back as
`Last-Event-ID` and gets only newer versions; a client that already has the final status is told
204 (the EventSource spec's "stop reconnecting"); a `retry:` line paces reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Header, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from arqkit import JobQueue, QueueUnavailable, job_ids, watch
from arqkit.errors import JobNotFound
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


class Gate:
    """At most `limit` of something open at once in this process, counted at admission: before any Redis
    work, so a burst of opens cannot pass it (they used to count from their first byte)."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.open = 0

    def enter(self) -> Slot:
        if self.open >= self.limit:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"too many open {self.what}", {"Retry-After": "1"}
            )
        self.open += 1
        return Slot(self)


class Slot:
    """One admission; `release` (idempotent) frees it."""

    def __init__(self, gate: Gate) -> None:
        self._gate: Gate | None = gate

    def release(self) -> None:
        if self._gate is not None:
            self._gate.open -= 1
            self._gate = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _HoldingResponse(StreamingResponse):
    """A stream that frees its slot when it ends, whether or not its body ever started."""

    def __init__(self, slot: Slot, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


class JobEventStreams:
    """The watchers of one API process, made in the lifespan: at most `JOB_EVENTS_MAX_STREAMS` event
    streams and `JOB_WAIT_MAX_POLLS` long polls open at once; past either, 503 with `Retry-After`."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.streams = Gate(settings.job_events_max_streams, "event streams")
        self.long_polls = Gate(settings.job_wait_max_polls, "long polls")

    @property
    def open(self) -> int:
        return self.streams.open

    async def respond(self, queue: JobQueue, job_id: str, last_event_id: str | None) -> Response:
        slot = self.streams.enter()
        try:
            now = await watch.current(queue, job_id)  # an unknown id is a 404 before the stream starts
            if job_ids.is_internal(queue.registry, job_id, now.status.function):
                raise JobNotFound(job_id)  # the service's own job (a cron tick): admin only
            if now.final and now.id == last_event_id:
                slot.release()
                return Response(status_code=status.HTTP_204_NO_CONTENT)
            return _HoldingResponse(
                slot,
                self._stream(queue, job_id, last_event_id),
                media_type="text/event-stream",
                headers=HEADERS,
            )
        except BaseException:
            slot.release()
            raise

    async def _stream(self, queue: JobQueue, job_id: str, seen: str | None) -> AsyncIterator[str]:
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


async def get_job_streams(request: Request) -> JobEventStreams:
    streams: JobEventStreams = request.app.state.job_streams
    return streams
