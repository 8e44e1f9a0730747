"""The app against its own OpenAPI document (schemathesis, in-process over ASGI): for requests generated
from the schema, valid and invalid, no 5xx, and every status, content type and body is one the document
lists for that route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
import schemathesis
from fastapi import FastAPI
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from arqkit.redis_server import RedisServer
from tests.service.app import create_app
from tests.service.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
READYZ_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
ADMIN = {"Authorization": "Bearer test-admin-token"}


# The document does not depend on settings; the app that answers is `live_app`, on the suite's Redis.
# Left out: the dashboard's event stream (`GET /admin/events`), which holds each request open for
# STREAM_SECONDS (tests/web/test_openapi_document.py checks its entry); `GET /admin`, a page, is not
# in the document.
schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test")).openapi()).exclude(
    path="/admin/events"
)


@pytest.fixture(scope="module")
def live_app(redis_server: RedisServer, sink_url: str) -> Iterator[FastAPI]:
    """The app on its real lifespan (schemathesis runs it on an event loop thread of its own)."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    yield create_app(
        Settings(
            environment="test",
            redis_url=redis_server.url,
            sink_url=sink_url + "/send",
            admin_token="test-admin-token",
            rate_limit_enabled=False,
        )
    )
    asgi.shutdown_lifespans()


@schema.parametrize()
# Bounded and repeatable: 25 examples per operation, the same ones each run, none kept on disk.
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
)
def test_every_answer_is_one_the_openapi_document_lists(
    case: schemathesis.Case[Any], live_app: FastAPI
) -> None:
    # /readyz's 503 is its answer while no worker is alive (none runs here): documented, not a fault.
    checks = READYZ_CHECKS if case.operation.path == "/readyz" else CHECKS
    case.call_and_validate(app=live_app, headers=ADMIN, checks=checks)
