"""A tiny local email provider for development and tests: it records sends and fails on demand.

Run it with `python -m devtools.mailsink --host 127.0.0.1 --port 8025`. It accepts every send,
even one repeating an `Idempotency-Key`, so tests can see duplicate deliveries; the `/_control`
endpoints inject failures and let tests inspect what arrived.
"""

from __future__ import annotations

import argparse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, Field


class Email(BaseModel):
    to: str
    subject: str
    body: str


class Delivery(Email):
    id: str
    idempotency_key: str | None
    received_at: datetime


class FailureRule(BaseModel):
    """The next `times` sends (to `to` only, when given) answer `status` instead of being delivered."""

    status: int = Field(500, ge=400, le=599)
    times: int = Field(1, ge=1)
    to: str | None = None
    retry_after: int | None = Field(None, ge=0)


@dataclass
class Mailbox:
    """Everything the sink remembers, in memory only."""

    deliveries: list[Delivery] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    failures: list[FailureRule] = field(default_factory=list)

    def take_failure(self, to: str) -> FailureRule | None:
        """Use up one pending failure that applies to `to`, oldest first."""
        for rule in self.failures:
            if rule.to in (None, to):
                rule.times -= 1
                if rule.times == 0:
                    self.failures.remove(rule)
                return rule
        return None

    def clear(self) -> None:
        self.deliveries.clear()
        self.attempts.clear()
        self.failures.clear()


def create_app() -> FastAPI:
    """A fresh sink with an empty mailbox (one per test keeps tests independent)."""
    app = FastAPI(title="Mail sink", docs_url=None, redoc_url=None)
    mailbox = Mailbox()

    @app.post("/send", status_code=202)
    async def send(
        email: Email,
        response: Response,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> dict[str, str]:
        mailbox.attempts[email.to] += 1
        failure = mailbox.take_failure(email.to)
        if failure is not None:  # an injected failure is an attempt, never a delivery
            response.status_code = failure.status
            if failure.retry_after is not None:
                response.headers["Retry-After"] = str(failure.retry_after)
            return {"detail": "injected failure"}
        delivery = Delivery(
            **email.model_dump(),
            id=uuid.uuid4().hex,
            idempotency_key=idempotency_key,
            received_at=datetime.now(UTC),
        )
        mailbox.deliveries.append(delivery)
        return {"id": delivery.id}

    @app.post("/_control/fail", status_code=204)
    async def fail(rule: FailureRule) -> None:
        mailbox.failures.append(rule)

    @app.post("/_control/reset", status_code=204)
    async def reset() -> None:
        mailbox.clear()

    @app.get("/_control/deliveries")
    async def deliveries(to: str | None = None) -> list[Delivery]:
        return [d for d in mailbox.deliveries if to is None or d.to == to]

    @app.get("/_control/attempts")
    async def attempts() -> dict[str, int]:
        return dict(mailbox.attempts)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
