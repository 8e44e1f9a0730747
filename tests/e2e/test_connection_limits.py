"""The HTTP server's limits as shipped (issue 21, findings 5-8): the API started with the Dockerfile's own
uvicorn flags, on real sockets on 127.0.0.1, with bounded loads.

- headers over HTTP_MAX_HEADER_BYTES or HTTP_MAX_HEADERS are a 431, not buffered (a 50 MB header was);
- a connection that sends nothing, or trickles its headers, is closed after HTTP_HEADER_TIMEOUT_SECONDS;
- a flood of silent connections from one address (127.0.0.2) under a low open-file limit leaves another
  address's /healthz and /signup answering (they all failed before: `before_and_after` prints both);
- long polls and event streams are capped per process at admission, before any Redis work.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from arqkit.redis_server import free_port
from arqkit.testing import JobKit, settings_env

from jobs.tasks.reports import generate_report
from settings import Settings
from tests.support import PROCESS_START_SECONDS, ROOT

OPEN_FILES = 256  # the API's file limit in the flood test (hard too: it cannot lift it)


BIN = Path(sys.executable).parent


def _wait_until_serving(
    url: str, process: subprocess.Popen[bytes], timeout: float = PROCESS_START_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited with {process.returncode} before serving")
        try:
            httpx.get(url + "/healthz", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start serving within {timeout} s")


def shipped_flags() -> list[str]:
    """The Dockerfile CMD's uvicorn flags after the app, less host and port (the test picks its own)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.search(r"^CMD (\[.*\])", text, re.M).group(1))  # type: ignore[union-attr]
    flags: list[str] = cmd[2:]
    for name in ("--host", "--port"):
        index = flags.index(name)
        del flags[index : index + 2]
    return flags


@contextmanager
def shipped_api(
    settings: Settings,
    log_path: Path,
    *,
    flags: list[str] | None = None,
    open_files: int | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [str(BIN / "uvicorn"), "api.main:app", "--host", "0.0.0.0", "--port", str(port)]
    command += shipped_flags() if flags is None else flags

    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**settings_env(settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url, port
    finally:
        process.terminate()
        process.wait(15)


def raw_request(port: int, request: bytes, timeout: float = 5.0) -> tuple[bytes, int]:
    """What the server answered, and how much of `request` it took before it answered or reset."""
    sent = 0
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for start in range(0, len(request), 65536):
                sent += sock.send(request[start : start + 65536])
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass  # it closed with our bytes unread: what it wrote before may be lost with the reset
        return b"".join(chunks), sent


def test_the_shipped_commands_all_set_the_http_limits() -> None:
    flags = shipped_flags()
    assert flags[flags.index("--http") :][:2] == ["--http", "arqkit.web.server:HttpProtocol"]
    for start in (
        (ROOT / "compose.yaml").read_text(),
        (ROOT / "deploy" / "k8s" / "api.yaml").read_text(),
        (ROOT / "scripts" / "dev.py").read_text(),
    ):
        for flag in ("arqkit.web.server:HttpProtocol", "--limit-concurrency", "--timeout-keep-alive"):
            assert flag in start
        for flag in ("--limit-concurrency", "--timeout-keep-alive"):  # the Dockerfile's values everywhere
            value = flags[flags.index(flag) + 1]
            assert re.search(rf"{flag}\W+{value}\b", start), (flag, value)


def test_headers_too_large_or_too_many_are_431(settings: Settings, tmp_path: Path) -> None:
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000_000 + b"\r\n\r\n"
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(150))
    with shipped_api(settings, tmp_path / "api.log") as (_, port):
        big, taken = raw_request(port, huge)
        lots, _ = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        fine, _ = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    # A 431, or a reset that lost it: either way long before the 20 MB were buffered (before: a 200).
    assert big.startswith(b"HTTP/1.1 431") or (not big and taken < 4_000_000), (big[:80], taken)
    assert lots.startswith(b"HTTP/1.1 431"), lots[:80]
    assert fine.startswith(b"HTTP/1.1 200"), fine[:80]


@pytest.mark.latency
def test_silent_and_slowloris_connections_are_closed(settings: Settings, tmp_path: Path) -> None:
    with shipped_api(settings, tmp_path / "api.log", env={"HTTP_HEADER_TIMEOUT_SECONDS": "1"}) as (_, port):
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        slow = socket.create_connection(("127.0.0.1", port), timeout=5)
        started = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed_slow = None
        for n in range(20):  # one header byte every 0.25 s: never complete
            try:
                slow.sendall(b"X-%d: 1\r\n" % n)
            except OSError:
                closed_slow = time.monotonic() - started
                break
            if _closed(slow):
                closed_slow = time.monotonic() - started
                break
            time.sleep(0.25)
        assert silent.recv(1) == b""  # closed by the server
        closed_silent = time.monotonic() - started
        silent.close()
        slow.close()

    assert closed_silent < 3, closed_silent
    assert closed_slow is not None
    assert closed_slow < 3


def _readable(sock: socket.socket) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def _closed(sock: socket.socket) -> bool:
    """The server closed it (what it wrote before, e.g. a 503, is read and dropped)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
        return True  # b"": end of stream
    except BlockingIOError:
        return False
    except OSError:
        return True


def flood_then_victim(port: int, attackers: int, victims: int = 20) -> dict[str, float]:
    """`attackers` silent connections from 127.0.0.2, held; then `victims` requests each of /healthz and
    /signup from 127.0.0.1. How many of each answered, and the slowest victim."""
    held: list[socket.socket] = []
    refused = 0
    for _ in range(attackers):
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", port))
            held.append(sock)
        except OSError:
            refused += 1
            sock.close()
    time.sleep(0.5)  # let the server accept (or refuse) them all
    answered = {"healthz": 0, "signup": 0}
    slowest = 0.0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3) as client:
            for n in range(victims):
                for route in answered:
                    started = time.monotonic()
                    try:
                        if route == "healthz":
                            ok = client.get("/healthz").status_code == 200
                        else:
                            body = {"email": f"v{n}@example.com", "name": "Victim"}
                            ok = client.post("/signup", json=body).status_code == 202
                    except httpx.HTTPError:
                        ok = False
                    slowest = max(slowest, time.monotonic() - started)
                    answered[route] += ok
        still_open = sum(1 for sock in held if not _closed(sock))
    finally:
        for sock in held:
            sock.close()
    return {
        **answered,
        "victims": victims,
        "attacker_open": still_open,
        "connect_failed": refused,
        "slowest": slowest,
    }


@pytest.mark.latency
def test_a_flood_from_one_address_leaves_other_addresses_served(settings: Settings, tmp_path: Path) -> None:
    env = {"HTTP_MAX_CONNECTIONS_PER_ADDRESS": "50"}
    with shipped_api(settings, tmp_path / "api.log", open_files=OPEN_FILES, env=env) as (_, port):
        seen = flood_then_victim(port, attackers=400)
    print(f"\nflood, shipped flags, nofile {OPEN_FILES}: {seen}")

    assert seen["healthz"] == seen["victims"], seen
    assert seen["signup"] == seen["victims"], seen
    assert seen["attacker_open"] <= 50, seen


@pytest.mark.parametrize("shape", ["long poll", "event stream"])
async def test_long_polls_and_streams_are_capped_per_process_at_admission(
    shape: str, settings: Settings, tmp_path: Path, job_kit: JobKit
) -> None:
    job = await job_kit.queue.enqueue(generate_report, user_id=1, month="2026-01")  # no worker: stays queued
    env = {"JOB_WAIT_MAX_POLLS": "5", "JOB_EVENTS_MAX_STREAMS": "5", "JOB_EVENTS_MAX_SECONDS": "2"}
    path = f"/jobs/{job.job_id}" + ("?wait=2" if shape == "long poll" else "/events")
    with shipped_api(settings, tmp_path / "api.log", env=env) as (url, _):
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

            async def one() -> int:
                async with client.stream("GET", path) as response:
                    await response.aread()
                    return response.status_code

            codes = await asyncio.gather(*(one() for _ in range(40)))

    assert codes.count(200) <= 5, codes  # before: 40 of 40 streams opened with a cap of 5
    assert codes.count(200) >= 1, codes
    assert codes.count(503) >= 35, codes


VICTIM = """
import json, sys, time, httpx
times = []
with httpx.Client(base_url=sys.argv[1], timeout=10) as client:
    for n in range(int(sys.argv[2])):
        started = time.monotonic()
        try:
            ok = client.post("/signup", json={"email": f"v{n}@example.com", "name": "V"}).status_code == 202
        except httpx.HTTPError:
            ok = False
        elapsed = time.monotonic() - started
        times.append(elapsed if ok else -elapsed)
print(json.dumps(times))
"""


async def long_polls_then_victim(
    url: str, job_id: str, per_address: int, victims: int = 21
) -> dict[str, float]:
    """`per_address` long polls (`?wait=5`) from each of 127.0.0.2-4, then `victims` signups from
    127.0.0.1 one after another while they wait: how many were 202, their median and slowest seconds."""
    pollers = [
        httpx.AsyncClient(
            base_url=url,
            timeout=15,
            transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{n}"),
            limits=httpx.Limits(max_connections=per_address),
        )
        for n in (2, 3, 4)
    ]

    async def poll(client: httpx.AsyncClient) -> int:
        try:
            return (await client.get(f"/jobs/{job_id}", params={"wait": 5})).status_code
        except httpx.HTTPError:
            return 0

    polls = [asyncio.create_task(poll(client)) for client in pollers for _ in range(per_address)]
    await asyncio.sleep(1.0)  # let them all be admitted (or refused)
    # The victim in a process of its own: this loop, busy with the pollers, must not slow it down.
    victim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", VICTIM, url, str(victims), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await victim.communicate()
    times: list[float] = json.loads(out)
    accepted = sum(1 for t in times if t >= 0)
    times = sorted(abs(t) for t in times)
    codes = await asyncio.gather(*polls)
    for client in pollers:
        await client.aclose()
    times.sort()
    return {
        "victims_202": accepted,
        "victims": victims,
        "p50": round(times[len(times) // 2], 3),
        "slowest": round(times[-1], 3),
        "polls_200": codes.count(200),
        "polls_503": codes.count(503),
    }


@pytest.mark.latency
async def test_a_crowd_of_long_polls_leaves_other_clients_served(
    settings: Settings, tmp_path: Path, job_kit: JobKit
) -> None:
    job = await job_kit.queue.enqueue(generate_report, user_id=1, month="2026-02")  # no worker: stays queued
    env = {"HTTP_MAX_CONNECTIONS_PER_ADDRESS": "0"}  # the long-poll cap alone: 300 at once, 200 admitted
    with shipped_api(settings, tmp_path / "api.log", env=env) as (url, _):
        seen = await long_polls_then_victim(url, job.job_id, per_address=100)
    print(f"\nlong polls, shipped flags: {seen}")

    assert seen["victims_202"] == seen["victims"], seen
    assert seen["polls_503"] >= 90, seen  # JOB_WAIT_MAX_POLLS=200 of the 300


if __name__ == "__main__":  # the before/after figures: `python -m tests.e2e.test_connection_limits`
    from arqkit.redis_server import RedisServer

    with RedisServer() as redis:  # the flood only: the long polls' "before" needs main's code
        base = Settings(environment="test", redis_url=redis.url, rate_limit_enabled=False)
        for label, flags in (
            ("before (main's CMD flags)", ["--no-proxy-headers"]),
            ("after (shipped)", None),
        ):
            log_path = Path("/tmp/flood-api.log")
            with shipped_api(base, log_path, flags=flags, open_files=OPEN_FILES) as (_, port):
                print(label, shlex.join(flags or shipped_flags()), flood_then_victim(port, 400))
