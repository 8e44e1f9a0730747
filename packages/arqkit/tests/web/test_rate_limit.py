"""API rate limits: a sliding window per client in Redis, one round trip per request, as a dependency."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI, HTTPException
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from arqkit import keys
from arqkit.internals.connection import create_api_redis
from arqkit.redis_server import free_port
from arqkit.sliding_window import Rate, SlidingWindowLimiter
from arqkit.web import QueueService
from arqkit.web.rate_limit import ApiRateLimiter
from tests.service import app as service_app
from tests.service.app import create_app
from tests.service.registry import REGISTRY
from tests.service.settings import Settings

NOTIFY = {"email": "ada@example.com", "name": "Ada"}
PROXY = "10.0.0.5"
ISSUED_KEYS = ("key-a", "key-b")
Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
LimiterWithoutRedis = Callable[..., AbstractAsyncContextManager[ApiRateLimiter]]


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_enabled": True,
            # a minute: no test's burst, however slow the machine, outlasts the window by accident
            "rate_limit_notify": "10/minute",
            "trusted_proxies": ["10.0.0.0/8"],
            "api_keys": [hashlib.sha256(key.encode()).hexdigest() for key in ISSUED_KEYS],
        }
    )


@pytest.fixture
def client_from(limited: Settings, redis_client: redis.asyncio.Redis) -> Client:
    """An HTTP client on the app with limits on, whose requests come from the peer `address`."""

    @asynccontextmanager
    async def open_client(
        address: str = "203.0.113.7", settings: Settings = limited
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    return open_client


async def _burst(
    client: httpx.AsyncClient, n: int, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    return list(
        await asyncio.gather(*(client.post("/notify", json=NOTIFY, headers=headers) for _ in range(n)))
    )


def _three_seconds(limited: Settings) -> Settings:
    """For the tests that wait for the window to pass."""
    return limited.model_copy(update={"rate_limit_notify": "10/3s"})


# --- the window -------------------------------------------------------------------------------------------


async def test_fifty_concurrent_requests_against_a_limit_of_ten_admit_exactly_ten(
    client_from: Client,
) -> None:
    async with client_from() as client:
        responses = await _burst(client, 50)

    assert Counter(r.status_code for r in responses) == {202: 10, 429: 40}


async def test_each_refusal_says_retry_after_the_time_until_the_oldest_admission_leaves_the_window(
    client_from: Client, limited: Settings
) -> None:
    async with client_from(settings=_three_seconds(limited)) as client:
        started = time.monotonic()
        responses = await _burst(client, 50)
        elapsed = time.monotonic() - started

    refused = [r for r in responses if r.status_code == 429]
    # The ten were admitted within `elapsed` of the refusals, and each leaves the window 3 s after it came.
    earliest = max(1, math.ceil(3 - elapsed))
    assert all(earliest <= int(r.headers["retry-after"]) <= 3 for r in refused)
    assert all(r.headers["ratelimit-remaining"] == "0" for r in refused)
    assert all("retry after" in r.json()["detail"] for r in refused)


async def test_after_retry_after_seconds_requests_pass_again(client_from: Client, limited: Settings) -> None:
    async with client_from(settings=_three_seconds(limited)) as client:
        refused = [r for r in await _burst(client, 20) if r.status_code == 429]
        await asyncio.sleep(max(int(r.headers["retry-after"]) for r in refused))

        again = await client.post("/notify", json=NOTIFY)

    assert again.status_code == 202


async def test_a_refused_notify_enqueues_nothing(
    client_from: Client, limited: Settings, redis_client: redis.asyncio.Redis
) -> None:
    async with client_from() as client:
        responses = await _burst(client, 15)

    admitted = {r.json()["job_id"] for r in responses if r.status_code == 202}
    queued = {raw.decode() for raw in await redis_client.zrange(limited.queue_name, 0, -1)}
    assert len(admitted) == 10
    assert queued == admitted


async def test_a_notify_with_an_invalid_body_is_not_counted(client_from: Client) -> None:
    """The limit is decided with the enqueue: a 422 never gets that far."""
    async with client_from() as client:
        invalid = [await client.post("/notify", json={"email": "nope"}) for _ in range(12)]
        valid = await client.post("/notify", json=NOTIFY)

    assert {r.status_code for r in invalid} == {422}
    assert valid.status_code == 202
    assert valid.headers["ratelimit-remaining"] == "9"


async def test_admitted_responses_count_down_the_remaining_requests(
    client_from: Client, limited: Settings
) -> None:
    async with client_from(settings=_three_seconds(limited)) as client:
        responses = [await client.post("/notify", json=NOTIFY) for _ in range(3)]

    assert [r.headers["ratelimit-limit"] for r in responses] == ["10", "10", "10"]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["9", "8", "7"]
    assert all(1 <= int(r.headers["ratelimit-reset"]) <= 3 for r in responses)


@pytest.fixture
async def limiter(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> AsyncIterator[SlidingWindowLimiter]:
    pool = create_api_redis(settings)
    yield SlidingWindowLimiter(pool)
    await pool.aclose()


async def test_a_limit_never_admits_more_than_its_count_in_any_window(limiter: SlidingWindowLimiter) -> None:
    rate, admitted = Rate(5, 0.5), []
    deadline = time.monotonic() + 3 * rate.period_seconds
    while time.monotonic() < deadline:
        if (await limiter.acquire(keys.rate_window("test", "hammer"), rate)).admitted:
            admitted.append(time.monotonic())
        await asyncio.sleep(0.005)

    window = rate.period_seconds - 0.1  # timed on this side of the network: allow for its jitter
    busiest = max(sum(1 for t in admitted if start <= t < start + window) for start in admitted)
    assert busiest == rate.count
    assert len(admitted) >= 3 * rate.count


async def test_the_window_slides_so_a_second_burst_within_the_period_is_refused(
    limiter: SlidingWindowLimiter,
) -> None:
    """A fixed window would admit the second burst whenever a window edge fell between the two."""
    rate, key = Rate(5, 3.0), keys.rate_window("test", "bursts")
    began = time.monotonic()
    first = [await limiter.acquire(key, rate) for _ in range(5)]
    await asyncio.sleep(1.5)

    second = await limiter.acquire(key, rate)
    elapsed = time.monotonic() - began

    assert all(d.admitted for d in first)
    assert not second.admitted
    # The oldest admission, at least 1.5 s before this one and no earlier than `began`, leaves the window
    # 3 s after it was admitted (bounds from what the test saw, so a slow machine cannot break them).
    slack = 0.01  # Redis's clock against this process's, both milliseconds
    assert rate.period_seconds - elapsed - slack <= second.wait_seconds <= rate.period_seconds - 1.5 + slack


async def test_a_peek_tells_whether_a_request_would_pass_and_records_nothing(
    limiter: SlidingWindowLimiter,
) -> None:
    rate, key = Rate(2, 60), keys.rate_window("test", "peek")
    peeks = [await limiter.peek(key, rate) for _ in range(5)]
    await limiter.acquire(key, rate)
    await limiter.acquire(key, rate)

    assert all(p.admitted and p.remaining == 2 for p in peeks)
    assert not (await limiter.peek(key, rate)).admitted


# --- reserving ahead, as jobs do for downstream limits (arqkit/capacity.py) -----------------------


async def test_a_job_may_reserve_the_next_free_slot_within_its_max_wait(
    limiter: SlidingWindowLimiter,
) -> None:
    rate = Rate(2, 1.0)
    for _ in range(2):
        assert (await limiter.acquire(keys.rate_window("downstream", "test"), rate)).wait_seconds == 0

    reserved = await limiter.acquire(keys.rate_window("downstream", "test"), rate, max_wait_seconds=2)

    assert reserved.admitted
    assert 0.9 <= reserved.wait_seconds <= 1.0


async def test_a_slot_further_away_than_the_max_wait_is_not_reserved(limiter: SlidingWindowLimiter) -> None:
    rate = Rate(1, 10.0)
    await limiter.acquire(keys.rate_window("downstream", "test"), rate)

    first = await limiter.acquire(keys.rate_window("downstream", "test"), rate, max_wait_seconds=1)
    second = await limiter.acquire(keys.rate_window("downstream", "test"), rate, max_wait_seconds=1)

    assert not first.admitted
    assert second.wait_seconds <= first.wait_seconds  # nothing was booked in between


# --- who the client is ------------------------------------------------------------------------------------


async def test_invented_api_keys_share_the_budget_of_their_address(
    client_from: Client, limited: Settings
) -> None:
    """Finding 1: every new X-API-Key value used to open a fresh bucket, so a limit was no limit."""
    five_a_minute = limited.model_copy(update={"rate_limit_notify": "5/minute"})
    async with client_from(settings=five_a_minute) as client:
        responses = [
            await client.post("/notify", json=NOTIFY, headers={"X-API-Key": f"invented-{i}"})
            for i in range(20)
        ]

    assert Counter(r.status_code for r in responses) == {202: 5, 429: 15}


async def test_an_issued_api_key_has_a_budget_apart_from_its_address(
    client_from: Client, limited: Settings
) -> None:
    five_a_minute = limited.model_copy(update={"rate_limit_notify": "5/minute"})
    async with client_from(settings=five_a_minute) as client:
        await _burst(client, 5)
        by_address = await client.post("/notify", json=NOTIFY)
        by_key = await _burst(client, 6, headers={"X-API-Key": "key-a"})

    assert by_address.status_code == 429
    assert Counter(r.status_code for r in by_key) == {202: 5, 429: 1}


def test_api_keys_are_sha256_digests() -> None:
    with pytest.raises(ValidationError):
        Settings(api_keys=["key-a"])


async def test_each_api_key_has_its_own_budget(client_from: Client) -> None:
    async with client_from() as client:
        await _burst(client, 10, headers={"X-API-Key": "key-a"})

        other = await client.post("/notify", json=NOTIFY, headers={"X-API-Key": "key-b"})
        same = await client.post("/notify", json=NOTIFY, headers={"X-API-Key": "key-a"})

    assert other.status_code == 202
    assert same.status_code == 429


async def test_one_api_key_shares_its_budget_across_addresses(client_from: Client) -> None:
    async with client_from("198.51.100.1") as first:
        await _burst(first, 10, headers={"X-API-Key": "key-a"})
    async with client_from("198.51.100.2") as second:
        response = await second.post("/notify", json=NOTIFY, headers={"X-API-Key": "key-a"})

    assert response.status_code == 429


async def test_forged_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(
    client_from: Client,
) -> None:
    async with client_from("203.0.113.7") as client:
        responses = [
            await client.post("/notify", json=NOTIFY, headers={"X-Forwarded-For": f"192.0.2.{i}"})
            for i in range(11)
        ]

    assert [r.status_code for r in responses] == [202] * 10 + [429]


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(client_from: Client) -> None:
    async with client_from(PROXY) as proxy:
        await _burst(proxy, 10, headers={"X-Forwarded-For": "192.0.2.1"})

        exhausted = await proxy.post("/notify", json=NOTIFY, headers={"X-Forwarded-For": "192.0.2.1"})
        other = await proxy.post("/notify", json=NOTIFY, headers={"X-Forwarded-For": "192.0.2.2"})

    assert exhausted.status_code == 429
    assert other.status_code == 202


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.7", "192.0.2.1", "203.0.113.7"),  # untrusted peer: header ignored
        (PROXY, "192.0.2.1", "192.0.2.1"),
        (PROXY, "192.0.2.66, 192.0.2.1", "192.0.2.1"),  # the client prepended a forged hop
        (PROXY, "192.0.2.1, 10.0.0.9", "192.0.2.1"),  # two trusted proxies in a row
        (PROXY, "192.0.2.1, not-an-ip", PROXY),  # a garbled hop stops the walk
        (PROXY, "", PROXY),
        ("192.0.2.9", "192.0.2.9", "rewritten-by-server"),  # uvicorn took the peer from the header itself
        ("192.0.2.9", "192.0.2.1, 192.0.2.9:4000", "rewritten-by-server"),
        (PROXY, f"192.0.2.66, {PROXY}", "rewritten-by-server"),  # forged to look like it came via PROXY
    ],
)
def test_client_address_is_the_rightmost_hop_not_added_by_a_trusted_proxy(
    limited: Settings, peer: str, forwarded_for: str, client: str
) -> None:
    limiter = ApiRateLimiter(create_api_redis(limited), limited)
    request = _request(peer, {"x-forwarded-for": forwarded_for} if forwarded_for else {})

    assert limiter.client_address(request) == client


def test_an_api_key_is_never_part_of_the_redis_key_in_clear(limited: Settings) -> None:
    limiter = ApiRateLimiter(create_api_redis(limited), limited)

    key = limiter.client_key(_request("203.0.113.7", {"x-api-key": "key-a"}))

    assert key.startswith("key:")
    assert "key-a" not in key


@pytest.mark.parametrize("peer", ["x" * 60_000, "testclient", "::FFFF:192.0.2.1"])
def test_the_client_part_of_the_redis_key_is_bounded_whatever_the_peer_is_called(
    limited: Settings, peer: str
) -> None:
    """Finding 9: a 60 KB forged address, once rewritten into the peer by uvicorn, became a key name."""
    limiter = ApiRateLimiter(create_api_redis(limited), limited)

    key = limiter.client_key(_request(peer))

    assert len(key) <= 64


# --- settings ---------------------------------------------------------------------------------------------


async def test_limits_off_send_no_rate_limit_headers(api: httpx.AsyncClient) -> None:
    response = await api.post("/notify", json=NOTIFY)

    assert response.status_code == 202
    assert "ratelimit-limit" not in response.headers


async def test_status_polling_has_its_own_budget(client_from: Client, limited: Settings) -> None:
    tight = limited.model_copy(update={"rate_limit_status": "2/minute"})
    async with client_from(settings=tight) as client:
        job_id = (await client.post("/notify", json=NOTIFY)).json()["job_id"]
        polls = [await client.get(f"/jobs/{job_id}") for _ in range(3)]

    assert [p.status_code for p in polls] == [200, 200, 429]


@pytest.mark.parametrize(
    ("text", "rate"),
    [("5/minute", Rate(5, 60)), ("60/min", Rate(60, 60)), ("10/second", Rate(10, 1)), ("10/2s", Rate(10, 2))],
)
def test_rates_are_written_as_count_per_period(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["5", "0/minute", "5/fortnight", "5 per minute", "5/0s"])
def test_a_malformed_rate_is_refused_at_startup(text: str) -> None:
    with pytest.raises((ValidationError, ValueError)):
        Rate.parse(Settings(rate_limit_notify=text).rate_limit_notify)


# --- Redis away -------------------------------------------------------------------------------------------


@pytest.fixture
def limiter_without_redis(limited: Settings) -> LimiterWithoutRedis:
    @asynccontextmanager
    async def open_limiter(**update: object) -> AsyncIterator[ApiRateLimiter]:
        nowhere = limited.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", **update})
        pool = create_api_redis(nowhere)
        try:
            yield ApiRateLimiter(pool, nowhere, {"notify": nowhere.rate_limit_notify})
        finally:
            await pool.aclose()

    return open_limiter


async def test_redis_away_lets_requests_through_by_default_and_logs_it(
    limiter_without_redis: LimiterWithoutRedis, caplog: pytest.LogCaptureFixture
) -> None:
    response = Response()
    async with limiter_without_redis() as limiter:
        with caplog.at_level(logging.WARNING, logger="api.rate_limit"):
            await limiter.check("notify", _request("203.0.113.7"), response)

    assert "ratelimit-limit" not in response.headers
    assert any("rate limiter unavailable" in str(record.msg) for record in caplog.records)


async def test_redis_away_answers_503_when_set_to_fail_closed(
    limiter_without_redis: LimiterWithoutRedis,
) -> None:
    async with limiter_without_redis(rate_limit_fail_open=False) as limiter:
        with pytest.raises(HTTPException) as refused:
            await limiter.check("notify", _request("203.0.113.7"), Response())

    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "1"}


def _request(peer: str, headers: dict[str, str] | None = None) -> Request:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "client": (peer, 1234)})


async def test_a_route_whose_limit_the_app_did_not_declare_stops_the_app_at_startup(
    settings: Settings,
) -> None:
    service = QueueService(settings, REGISTRY, rate_limits={"producers": "1/minute"})
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)
    app.include_router(service_app.router)  # POST /notify uses RateLimitedQueue("notify")

    with pytest.raises(RuntimeError, match=r"POST /notify uses 'notify'"):
        async with app.router.lifespan_context(app):
            pass
