"""A Redis Sentinel deployment of real processes for tests: a primary, its replicas and three sentinels,
each a `redis-server` on 127.0.0.1 (`--replicaof` for the replicas, `--sentinel` for the sentinels).

Timings are short (a node is down after `DOWN_AFTER_MS` of silence) so a failover takes seconds. Data
nodes and sentinels have different passwords, as docs/deploying.md recommends: the URL carries the
data nodes' password, `REDIS_SENTINEL_PASSWORD` the sentinels'.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis

from arqkit.redis_server import RedisServer
from tests.service.settings import Settings

SERVICE = "mymaster"
DATA_PASSWORD = "data-node-secret"
SENTINEL_PASSWORD = "sentinel-secret"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
READY_TIMEOUT_SECONDS = 20.0
# A primary waits 5 s by default before a full sync, for more replicas to join it (production too).
NODE_ARGS = ("--masterauth", DATA_PASSWORD, "--repl-diskless-sync-delay", "0")


def make_certificates(directory: Path) -> Path:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it (`openssl`); returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "san.cnf")  # fmt: skip
    return directory


def tls_args(certificates: Path | None, port: int) -> list[str]:
    """TLS only, on `port`: servers, and what they connect to (replication, other sentinels)."""
    if certificates is None:
        return []
    return [
        "--port", "0", "--tls-port", str(port), "--tls-replication", "yes", "--tls-auth-clients", "no",
        "--tls-cert-file", str(certificates / "server.pem"),
        "--tls-key-file", str(certificates / "server.key"),
        "--tls-ca-cert-file", str(certificates / "ca.pem"),
    ]  # fmt: skip


class SentinelServer(RedisServer):
    """`redis-server sentinel.conf --sentinel`, watching `SERVICE` at `primary_port`."""

    def __init__(
        self, directory: Path, primary_port: int, password: str | None, certificates: Path | None
    ) -> None:
        ca = certificates / "ca.pem" if certificates else None
        super().__init__(directory=directory, password=password, tls_ca=ca)
        self.primary_port = primary_port
        self.certificates = certificates

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "sentinel.conf").write_text(
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel auth-pass {SERVICE} {DATA_PASSWORD}\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        super().start()

    def _command(self) -> list[str]:
        return [
            self.binary, str(self.directory / "sentinel.conf"), "--sentinel",
            "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
            "--daemonize", "no", *(["--requirepass", self.password] if self.password else []),
            *tls_args(self.certificates, self.port),
        ]  # fmt: skip


class SentinelCluster:
    """Start with `with SentinelCluster(tmp_path) as cluster:`; `cluster.url` is the REDIS_URL to use, and
    `sentinel_password` (None: sentinels without one) goes in REDIS_SENTINEL_PASSWORD."""

    def __init__(
        self,
        directory: Path,
        replicas: int = 1,
        sentinels: int = 3,
        sentinel_password: str | None = SENTINEL_PASSWORD,
        tls: bool = False,
    ) -> None:
        self.directory = directory
        self.sentinel_password = sentinel_password
        self.certificates = make_certificates(directory / "tls") if tls else None
        self.nodes = [self._node(f"node-{i}") for i in range(1 + replicas)]
        primary = self.nodes[0].port
        self.sentinels = [
            SentinelServer(directory / f"sentinel-{i}", primary, sentinel_password, self.certificates)
            for i in range(sentinels)
        ]

    @property
    def url(self) -> str:
        addresses = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        if self.certificates is not None:
            ca = self.certificates / "ca.pem"
            return f"rediss+sentinel://:{DATA_PASSWORD}@{addresses}/{SERVICE}?ssl_ca_certs={ca}"
        return f"redis+sentinel://:{DATA_PASSWORD}@{addresses}/{SERVICE}"

    def __enter__(self) -> Self:
        primary, *replicas = self.nodes
        try:
            primary.start()
            for replica in replicas:
                self.restart_as_replica(replica, primary.port)
            self.wait(lambda: replicas_acknowledging(primary) == len(replicas), "replicas in sync")
            for sentinel in self.sentinels:
                sentinel.start()
            self.wait(self._sentinels_agree, "sentinels that see each other and every replica")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for server in [*self.sentinels, *self.nodes]:
            server.stop()

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            try:
                with _client(sentinel) as client:
                    _, port = client.sentinel_get_master_addr_by_name(SERVICE)
                return int(port)
            except (redis.RedisError, OSError, TypeError):
                continue
        return None

    def settings(self, settings: Settings, **changes: Any) -> Settings:
        """`settings` on this cluster (validated again, as a process reading them would)."""
        return Settings.model_validate(
            {
                **settings.model_dump(),
                "admin_token": settings.admin_token.get_secret_value(),
                "redis_url": self.url,
                "redis_sentinel_password": self.sentinel_password,
                **changes,
            }
        )

    def fail_over(self) -> None:
        """`SENTINEL FAILOVER`: promote a replica without waiting for the primary to fail."""
        with _client(self.sentinels[0]) as client:
            client.execute_command("SENTINEL FAILOVER", SERVICE)

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def restart_as_replica(self, node: RedisServer, primary_port: int) -> None:
        """Start a node (again, once stopped or killed) as a replica of `primary_port`, as a supervisor
        that asks the sentinels first would: never as a second, empty primary."""
        node.extra_args = [*self._node_args(node), "--replicaof", "127.0.0.1", str(primary_port)]
        node.start()

    def _node(self, name: str) -> RedisServer:
        ca = self.certificates / "ca.pem" if self.certificates else None
        node = RedisServer(directory=self.directory / name, password=DATA_PASSWORD, tls_ca=ca)
        node.extra_args = self._node_args(node)
        return node

    def _node_args(self, node: RedisServer) -> list[str]:
        return [*NODE_ARGS, *tls_args(self.certificates, node.port)]

    def _sentinels_agree(self) -> bool:
        replicas, others = len(self.nodes) - 1, len(self.sentinels) - 1
        for sentinel in self.sentinels:
            with _client(sentinel) as client:
                state: dict[str, Any] = client.sentinel_master(SERVICE)
            if state["num-slaves"] < replicas or state["num-other-sentinels"] < others:
                return False
        return True

    @staticmethod
    def wait(probe: Any, what: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not probe():
            if time.monotonic() > deadline:
                raise RuntimeError(f"sentinel cluster: no {what} after {timeout:.0f} s")
            time.sleep(0.05)


def _client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)


def replicas_acknowledging(primary: RedisServer) -> int:
    """How many replicas confirm a write to `primary` within 0.1 s (`WAIT`). Right after a replica says its
    link is up, its primary may not count it yet, or its first WAIT may time out: tests wait for this."""
    with _client(primary) as client, client.pipeline(transaction=False) as pipe:
        pipe.set("test:replication-probe", time.time())
        pipe.wait(1_000, 100)
        _, acknowledged = pipe.execute()
    return int(acknowledged)
