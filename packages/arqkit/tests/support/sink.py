"""An HTTP sink for the fixture service's `notify` job, served from a thread of the test process: it
records every JSON body POSTed to `/send` and answers injected failures on demand.

Control: `POST /_control/fail {"status", "times", "to"?, "retry_after"?}`, `POST /_control/reset`,
`GET /_control/deliveries`, `GET /_control/attempts` (sends per `to`, failed ones included)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[dict[str, Any]] = []
        self.attempts: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], idempotency_key: str | None) -> tuple[int, dict[str, Any]]:
        to = str(body.get("to"))
        with self.lock:
            self.attempts[to] += 1
            rule = next((r for r in self.failures if r.get("to") in (None, to)), None)
            if rule is not None:
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.failures.remove(rule)
                return rule["status"], {"detail": "injected failure", "retry_after": rule.get("retry_after")}
            received_at = datetime.now(UTC).isoformat()
            delivery = {
                **body,
                "id": uuid.uuid4().hex,
                "idempotency_key": idempotency_key,
                "received_at": received_at,
            }
            self.deliveries.append(delivery)
            return 202, {"id": delivery["id"]}

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            match method, path:
                case "POST", "/_control/fail":
                    self.failures.append({"status": 500, "times": 1, **body})
                    return 204, None
                case "POST", "/_control/reset":
                    self.deliveries.clear()
                    self.attempts.clear()
                    self.failures.clear()
                    return 204, None
                case "GET", "/_control/deliveries":
                    return 200, list(self.deliveries)
                case "GET", "/_control/attempts":
                    return 200, dict(self.attempts)
                case "GET", "/healthz":
                    return 200, {"status": "ok"}
        return 404, {"detail": "not found"}


def _handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(*sink.control("GET", self.path.split("?")[0], None))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/send":
                status, answer = sink.send(body, self.headers.get("idempotency-key"))
                headers = {"Retry-After": str(answer.pop("retry_after"))} if answer.get("retry_after") else {}
                self._answer(status, answer, headers)
            else:
                self._answer(*sink.control("POST", self.path, body))

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read the sink through its control routes

    return Handler


@contextmanager
def serve_sink() -> Iterator[str]:
    """A fresh sink on a free port of 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Sink()))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
