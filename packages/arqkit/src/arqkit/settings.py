"""`QueueSettings`: what the machinery reads, from the environment and `.env`. A service's own settings
model extends it (`class Settings(QueueSettings)`) and adds its fields; the machinery never sees them."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from arqkit import keys

DEFAULT_ADMIN_TOKEN = "change-me"
ADMIN_TOKEN_MIN_LENGTH = 24
# A rate as "<count>/<period>": "5/minute", "60/min", "10/second", "10/2s"
# (parsed by arqkit.sliding_window.Rate).
SHA256_HEX = r"^[0-9a-fA-F]{64}$"
RATE_PATTERN = r"^[1-9][0-9]*/([0-9]*\.?[0-9]+)?(s|sec|second|m|min|minute|h|hour)$"


class QueueSettings(BaseSettings):
    # hide_input_in_errors: a malformed REDIS_URL must not print its password in the startup error.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    # redis://, rediss:// (TLS), unix://, or redis+sentinel:// (rediss+sentinel://: TLS), see SentinelURL.
    redis_url: str = Field("redis://127.0.0.1:6379/0", pattern=r"^(redis|rediss|unix|rediss?\+sentinel)://")
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    # Keys every job id the service derives (idempotent charges, replays: arqkit/job_ids.py), so that no
    # one can compute another's job id. Empty: a fixed development key, refused in production.
    job_id_secret: SecretStr = SecretStr("")

    log_format: Literal["json", "console"] | None = None  # None: json in production, console otherwise
    log_level: str = "INFO"
    log_job_arguments: bool = False  # true: arq's lines show job arguments and results (e.g. email addresses)

    max_body_bytes: int = Field(64 * 1024, gt=0)
    trusted_proxies: list[str] = []

    # Redis client: short timeouts so a dead Redis is a fast 503, never a hang.
    redis_socket_timeout_seconds: float = Field(1.0, gt=0)
    redis_connect_timeout_seconds: float = Field(0.5, gt=0)
    redis_retry_attempts: int = Field(2, ge=0)
    # How long one HTTP request may wait on a silent Redis, all its calls together (arqkit/deadline.py).
    redis_request_budget_seconds: float = Field(1.0, gt=0)
    # Sentinel (docs/deploying.md#redis-sentinel): the URL's user:password is the data nodes'; this is the
    # sentinels' own `requirepass`, if they have one.
    redis_sentinel_password: SecretStr | None = None
    redis_sentinel_recheck_seconds: float = Field(1.0, gt=0)  # how soon a pool follows a primary that moved
    # 0: 202 once the primary has the job. N: once N replicas have it too (WAIT), else 503 after the timeout.
    redis_min_replicas: int = Field(0, ge=0)
    redis_min_replicas_timeout_seconds: float = Field(0.5, gt=0)

    # Job defaults (a job may override them next to its definition).
    queue_name: str = keys.ARQ_DEFAULT_QUEUE
    job_timeout: int = Field(300, gt=0)
    max_tries: int = Field(5, ge=1)
    keep_result_seconds: int = Field(86_400, gt=0)
    flow_keep_seconds: int = Field(7 * 86_400, gt=0)  # a flow's record, from its last step's end (flows.py)
    retry_base_delay_seconds: float = Field(1.0, gt=0)
    retry_max_delay_seconds: float = Field(300.0, gt=0)
    worker_max_jobs: int = Field(50, gt=0)
    # Busy worker: seconds between queue reads. Idle worker: it blocks on the wake-up list instead, for at
    # most worker_idle_wait_seconds (so aborts, health and cron are looked at that often).
    # See arqkit/internals/wakeup.py.
    worker_poll_delay_seconds: float = Field(0.01, gt=0)
    worker_idle_wait_seconds: float = Field(1.0, gt=0)
    job_completion_wait_seconds: int = Field(30, ge=0)
    # A killed worker's running jobs start again elsewhere within this long (arqkit/internals/claims.py).
    crash_recovery_seconds: float = Field(15.0, gt=1)
    worker_heartbeat_seconds: float = Field(5.0, gt=0)
    # A running job's claim is renewed (from a thread: internals/claim_keeper.py) until its timeout plus
    # this grace; past that a stuck worker lets the job go, and another worker may run it.
    claim_grace_seconds: float = Field(10.0, ge=0)
    # An event loop that does not answer for this long is logged with the jobs running on it.
    worker_blocked_loop_seconds: float = Field(2.0, gt=0)
    # Plain `def` jobs run in at most this many threads per worker; `@job(executor="process")` jobs in a
    # pool of this many processes (started at the first such job).
    worker_sync_threads: int = Field(4, gt=0)
    worker_processes: int = Field(1, gt=0)
    idempotency_ttl_seconds: int = Field(86_400, gt=0)
    dead_letter_max: int = Field(100_000, gt=0)

    # Traffic control (docs/traffic-control.md). API limits are per client: API key, else address.
    rate_limit_enabled: bool = True
    rate_limit_fail_open: bool = True  # Redis away: let requests through (logged), or answer 503
    rate_limit_api_key_header: str = "X-API-Key"
    # SHA-256 hex digests of the API keys you issued; a key not listed here counts as no key at all.
    api_keys: list[Annotated[str, StringConstraints(pattern=SHA256_HEX, to_lower=True)]] = []
    # The machinery's own routes: reading a job (GET /jobs/{id}, its events) and aborting one (DELETE).
    # A service declares its routes' limits itself (arqkit.web.rate_limit).
    rate_limit_status: str = Field("600/minute", pattern=RATE_PATTERN)
    rate_limit_abort: str = Field("60/minute", pattern=RATE_PATTERN)
    # Inside jobs (arqkit.capacity): a throttled job waits up to this long for its rate, else is deferred.
    downstream_max_wait_seconds: float = Field(2.0, ge=0)
    # Concurrency slots are leases, renewed while held, that expire if their worker dies.
    concurrency_lease_seconds: float = Field(30.0, gt=1)
    concurrency_recheck_seconds: float = Field(1.0, gt=0)

    # Observability (docs/observability.md): metrics are batched in each process and flushed to Redis.
    metrics_flush_seconds: float = Field(1.0, gt=0)
    # GET /metrics: open to all while both are unset. Else a scrape needs `Authorization: Bearer
    # $METRICS_TOKEN`, or to come from one of these networks (the client address as TRUSTED_PROXIES tell).
    metrics_token: SecretStr | None = None
    metrics_allowed_networks: list[str] = []
    recent_jobs_max: int = Field(1000, gt=0)  # finished jobs listed per status in the admin API
    admin_session_seconds: int = Field(8 * 3600, gt=0)
    # A replay's audit record (who, when, arguments before and after) is kept this long (30 days).
    replay_audit_seconds: int = Field(30 * 86_400, gt=0)
    # Wrong admin tokens (login form or bearer) per client address; then 429 until the window frees.
    admin_auth_failures: str = Field("10/minute", pattern=RATE_PATTERN)
    dashboard_refresh_seconds: float = Field(1.0, gt=0)
    dashboard_history_seconds: int = Field(300, gt=0)  # the throughput chart's span, kept in Redis
    dashboard_sample_seconds: float = Field(5.0, gt=0)  # one point of that history per interval
    tracing_enabled: bool = False  # OpenTelemetry; needs the `otel` extra
    tracing_otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    tracing_service_name: str = "fastapi-arq-template"

    # Watching one job: GET /jobs/{id}/events (server-sent events) and GET /jobs/{id}?wait=N.
    job_watch_poll_seconds: float = Field(0.2, gt=0)
    # One stream's life; the client then reconnects (a shutting-down server waits for open streams).
    job_events_max_seconds: float = Field(15.0, gt=0)
    job_events_max_streams: int = Field(1000, gt=0)  # open streams per API process
    job_wait_max_polls: int = Field(200, gt=0)  # long polls (GET /jobs/{id}?wait=N) per API process

    # The HTTP server's own limits (arqkit.web.server, `uvicorn --http arqkit.web.server:HttpProtocol`).
    http_max_header_bytes: int = Field(16 * 1024, gt=0)  # request line and headers; past it: 431
    http_max_headers: int = Field(100, gt=0)
    # A request's headers must be complete this long after its connection (or first byte): slowloris.
    http_header_timeout_seconds: float = Field(10.0, gt=0)
    # Open connections from one peer address per process (0: no limit); TRUSTED_PROXIES are exempt.
    http_max_connections_per_address: int = Field(100, ge=0)

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"

    @property
    def redis_sentinel(self) -> SentinelURL | None:
        """The parsed `redis+sentinel://` URL, or None for a plain Redis."""
        return SentinelURL.parse(self.redis_url) if "+sentinel://" in self.redis_url else None

    @field_validator("redis_url")
    @classmethod
    def _sentinel_url_is_well_formed(cls, url: str) -> str:
        if "+sentinel://" in url:
            SentinelURL.parse(url)  # raises ValueError saying what is wrong
        return url

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks_are_well_formed(cls, networks: list[str]) -> list[str]:
        for network in networks:
            ipaddress.ip_network(network, strict=False)  # raises ValueError saying what is wrong
        return networks

    @model_validator(mode="after")
    def _replica_wait_fits_the_request_budget(self) -> QueueSettings:
        limit = min(self.redis_request_budget_seconds, self.redis_socket_timeout_seconds)
        if self.redis_min_replicas and self.redis_min_replicas_timeout_seconds >= limit:
            raise ValueError(
                "REDIS_MIN_REPLICAS_TIMEOUT_SECONDS must be below REDIS_REQUEST_BUDGET_SECONDS and "
                "REDIS_SOCKET_TIMEOUT_SECONDS, or a slow replica would look like a dead primary"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> QueueSettings:
        if self.environment == "production":
            weakness = admin_token_weakness(self.admin_token.get_secret_value())
            if weakness:
                raise ValueError(
                    f"ADMIN_TOKEN is too weak for ENVIRONMENT=production: {weakness} "
                    "(make one with `openssl rand -hex 32`)"
                )
            secret = self.job_id_secret.get_secret_value()
            if weakness := admin_token_weakness(secret):
                raise ValueError(
                    f"JOB_ID_SECRET is too weak for ENVIRONMENT=production: {weakness} "
                    "(make one with `openssl rand -hex 32`)"
                )
            if secret == self.admin_token.get_secret_value():
                raise ValueError("JOB_ID_SECRET must differ from ADMIN_TOKEN (they are rotated apart)")
        return self


def refuse_missing_urls_in_production(settings: QueueSettings, *names: str) -> None:
    """For a service's own settings (a provider's URL): in production each of `names` must be an http(s)
    URL with a host. An empty one would fail every job that uses it, retried until it is dead-lettered."""
    if settings.environment != "production":
        return
    for name in names:
        url = urlsplit(str(getattr(settings, name)))
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise ValueError(f"{name.upper()} must be an http(s) URL in ENVIRONMENT=production")


def admin_token_weakness(token: str) -> str | None:
    """Why `token` is too weak to guard production, or None: the default, too short, or too uniform."""
    if token.strip().lower() in {DEFAULT_ADMIN_TOKEN, ""}:
        return "it is empty or the default"
    if any(c.isspace() for c in token):
        return "it contains whitespace"
    if len(token) < ADMIN_TOKEN_MIN_LENGTH:
        return f"it is shorter than {ADMIN_TOKEN_MIN_LENGTH} characters"
    classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    if sum(any(kind(c) for c in token) for kind in classes) < 2:
        return "it uses one kind of character only (mix letters, digits or symbols)"
    if len(set(token)) < ADMIN_TOKEN_MIN_LENGTH // 2:
        return "it repeats a few characters"
    return None


SENTINEL_URL_FORM = "redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]"
SENTINEL_DEFAULT_PORT = 26379
# TLS options a sentinel URL may carry as a query (`?ssl_ca_certs=/etc/ca.pem`), for sentinels and data nodes.
SENTINEL_TLS_OPTIONS = {"ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"}


@dataclass(frozen=True)
class SentinelURL:
    """`redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]`; `rediss+sentinel://`
    for TLS to sentinels and data nodes alike. User and password are the data nodes' (percent-encoded)."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> SentinelURL:
        def malformed(reason: str) -> ValueError:
            return ValueError(f"malformed sentinel REDIS_URL ({reason}); expected {SENTINEL_URL_FORM}")

        scheme, _, rest = url.partition("://")
        if scheme not in {"redis+sentinel", "rediss+sentinel"}:
            raise malformed(f"unknown scheme {scheme!r}")
        rest, _, query = rest.partition("?")
        userinfo, _, rest = rest.rpartition("@")
        hosts, _, path = rest.partition("/")
        options = parse_qsl(query, keep_blank_values=True)
        if unknown := sorted({name for name, _ in options} - SENTINEL_TLS_OPTIONS):
            raise malformed(
                f"unknown option {unknown[0]!r}; allowed: {', '.join(sorted(SENTINEL_TLS_OPTIONS))}"
            )
        service, _, db = path.strip("/").partition("/")
        if not service:
            raise malformed("no service_name after the sentinels")
        if db and not db.isdigit():
            raise malformed(f"db must be a number, not {db!r}")
        if options and scheme != "rediss+sentinel":
            raise malformed("ssl_* options need TLS: rediss+sentinel://")
        username, _, password = userinfo.partition(":") if ":" in userinfo else ("", "", userinfo)
        return cls(
            sentinels=tuple(_host_and_port(address, malformed) for address in hosts.split(",")),
            service_name=unquote(service),
            db=int(db or 0),
            username=unquote(username) or None,
            password=unquote(password) or None,
            tls=scheme == "rediss+sentinel",
            tls_options=tuple(options),
        )


def _host_and_port(address: str, malformed: Callable[[str], ValueError]) -> tuple[str, int]:
    """`host:port`, `[::1]:port`, or a host alone (port 26379)."""
    host, port = address, ""
    if address.startswith("["):
        host, _, port = address[1:].partition("]")
        port = port.removeprefix(":")
    elif ":" in address:
        host, _, port = address.rpartition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise malformed(f"bad sentinel address {address!r}")
    return host, int(port or SENTINEL_DEFAULT_PORT)
