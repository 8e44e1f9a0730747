"""uvicorn's HTTP/1.1 protocol (httptools) with the limits a public server needs, which uvicorn lacks:

    uvicorn api.main:app --http arqkit.web.server:HttpProtocol --limit-concurrency 2000 ...

- **Header size and count.** httptools buffers a header of any size (a 50 MB value was answered 200 and
  the process kept the memory); an ASGI middleware only sees headers once they are all parsed, so the
  bound must be here. Past `HTTP_MAX_HEADER_BYTES` (request line and headers) or `HTTP_MAX_HEADERS`: 431,
  and the connection is closed. At most one read (64-256 KB) is buffered past the limit.
- **Header-read timeout.** uvicorn closes an idle keep-alive connection (`--timeout-keep-alive`) but
  never one that sent nothing, or a request whose headers trickle in (slowloris). A request's headers
  must be complete within `HTTP_HEADER_TIMEOUT_SECONDS` of its connection (or of its first byte, on a
  kept-alive connection), else the connection is closed.
- **Connections.** At most `--limit-concurrency` connections per process (uvicorn itself only answers
  503 to requests past it, and keeps accepting connections until the file limit), never more than the
  open-file limit allows (less `RESERVED_FILES` for Redis and logs; `raise_open_file_limit` lifts the
  soft limit to the hard one), and at most `HTTP_MAX_CONNECTIONS_PER_ADDRESS` from one peer address: a
  flood from one address is refused, not served at everyone else's expense. Peers in `TRUSTED_PROXIES`
  are exempt (a proxy carries many clients). A refused connection gets a 503 and is closed at once.

The limits are read once per process from the environment (`QueueSettings`). The class is uvicorn's
(its constructor and callbacks, pinned by tests/e2e/test_connection_limits.py); it is the one place
that reaches into uvicorn.
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from arqkit.settings import QueueSettings

log = structlog.get_logger("api.server")
RESERVED_FILES = 64  # for the Redis pool, logs, and the listening socket
REFUSAL_LOG_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int
    max_headers: int
    header_timeout_seconds: float
    max_connections_per_address: int
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    open_files: int

    def exempt(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


@cache
def limits() -> Limits:
    settings = QueueSettings()
    return Limits(
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        header_timeout_seconds=settings.http_header_timeout_seconds,
        max_connections_per_address=settings.http_max_connections_per_address,
        trusted=tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
        open_files=raise_open_file_limit(),
    )


def raise_open_file_limit() -> int:
    """Lift this process's soft limit on open files to its hard limit (containers often start at a soft
    1024 under a much higher hard one); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


_per_address: Counter[str] = Counter()  # open connections per peer address, in this process

REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n"
)
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
    b"content-length: 32\r\nconnection: close\r\n\r\nrequest header fields too large\n"
)


class HttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with the limits above; one per connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits()
        self._address: str | None = None  # counted in _per_address while set
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_headers = True
        self._header_bytes = 0
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else ""
        cap = max(1, self._limits.open_files - RESERVED_FILES)
        if self.limit_concurrency is not None:
            cap = min(cap, self.limit_concurrency)
        over_total = len(self.connections) > cap
        per_address = self._limits.max_connections_per_address
        over_address = per_address > 0 and not self._limits.exempt(host) and _per_address[host] >= per_address
        if over_total or over_address:
            self._refuse(REFUSED, "per address" if over_address else "per process")
            return
        self._address = host
        _per_address[host] += 1
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self._address is not None:
            _per_address[self._address] -= 1
            if _per_address[self._address] <= 0:
                del _per_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading_headers and self._header_bytes > self._limits.max_header_bytes:
            self._refuse(TOO_LARGE, "header bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:  # the next request on a kept-alive connection
            self._reading_headers = True
            self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        self._reading_headers = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if len(self.headers) > self._limits.max_headers or size > self._limits.max_header_bytes:
            self._too_large = True
            raise ValueError("request header fields too large")  # the parser stops: send_400_response
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse(TOO_LARGE, "header fields")
        else:
            super().send_400_response(msg)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._limits.header_timeout_seconds, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._reading_headers and not self.transport.is_closing():
            self.transport.close()  # a silent connection, or a slowloris: nothing to answer

    def _refuse(self, response: bytes, why: str) -> None:
        self._disarm_header_timer()
        if not self.transport.is_closing():
            _log_refusal(why, self.client[0] if self.client else None)
            self.transport.write(response)
            self.transport.close()


_refusals: Counter[str] = Counter()
_refusals_logged_at: dict[str, float] = {}


def _log_refusal(why: str, client: str | None) -> None:
    """One line per reason per `REFUSAL_LOG_SECONDS` with the count since the last: a flood of refused
    connections must not become a flood of log lines."""
    _refusals[why] += 1
    now = time.monotonic()
    if now - _refusals_logged_at.get(why, -REFUSAL_LOG_SECONDS) >= REFUSAL_LOG_SECONDS:
        _refusals_logged_at[why] = now
        log.warning("connections refused", reason=why, count=_refusals.pop(why), last_client=client)
