"""Issue 20, finding 4: a job missing from the registry is refused, never accepted with a 202 to fail
later on every worker as `function ... not found`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio
from fastapi import APIRouter, FastAPI

from arqkit import JobNotRegistered, JobQueue, Registry, job
from arqkit.job import AnyContext as Ctx
from arqkit.web import QueueService
from arqkit.web.deps import QueueDep
from tests.service.registry import REGISTRY
from tests.service.settings import Settings


@job()
async def resize_image(ctx: Ctx, image_id: int) -> None: ...


names_the_job = APIRouter()
reaches_the_job_through_a_helper = APIRouter()


@names_the_job.post("/images", status_code=202)
async def resize(queue: QueueDep) -> str:
    return (await queue.enqueue(resize_image, image_id=1)).job_id


async def _enqueue_resize(queue: JobQueue) -> str:
    return (await queue.enqueue(resize_image, image_id=1)).job_id


@reaches_the_job_through_a_helper.post("/thumbnails", status_code=202)
async def thumbnail(queue: QueueDep) -> str:
    return await _enqueue_resize(queue)


def _app(settings: Settings, router: APIRouter, registry: Registry = REGISTRY) -> FastAPI:
    service = QueueService(settings, registry)
    app = FastAPI(lifespan=service.lifespan)
    service.install(app)
    app.include_router(router)
    return app


@pytest.fixture
async def queue(settings: Settings, redis_client: redis.asyncio.Redis) -> AsyncIterator[JobQueue]:
    queue = JobQueue.connect(settings, REGISTRY)
    yield queue
    await queue.aclose()


async def test_enqueueing_a_job_the_registry_lacks_raises_job_not_registered_and_writes_nothing(
    queue: JobQueue, redis_client: redis.asyncio.Redis
) -> None:
    with pytest.raises(JobNotRegistered, match="resize_image"):
        await queue.enqueue(resize_image, image_id=1)

    assert await redis_client.dbsize() == 0


async def test_a_job_with_a_registered_jobs_name_but_another_function_is_refused(queue: JobQueue) -> None:
    @job()
    async def send_welcome_email(ctx: Ctx, email: str, name: str) -> None: ...

    with pytest.raises(JobNotRegistered):
        await queue.enqueue(send_welcome_email, email="a@example.com", name="A")


async def test_an_app_whose_route_enqueues_an_unregistered_job_refuses_to_start(settings: Settings) -> None:
    app = _app(settings, names_the_job)

    with pytest.raises(RuntimeError, match=r"POST /images enqueues 'resize_image'"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_same_app_starts_once_the_job_is_registered(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    app = _app(settings, names_the_job, Registry([*REGISTRY, resize_image]))

    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://t")
    async with app.router.lifespan_context(app), client as c:
        assert (await c.post("/images")).status_code == 202


async def test_a_job_reached_through_a_helper_is_refused_at_the_enqueue_with_a_clear_500(
    settings: Settings, redis_client: redis.asyncio.Redis
) -> None:
    app = _app(settings, reaches_the_job_through_a_helper)  # not seen at startup: it starts

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/thumbnails")

    assert response.status_code == 500
    assert "not registered" in response.json()["detail"]
    assert await redis_client.zcard(settings.queue_name) == 0
