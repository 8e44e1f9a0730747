"""The deployment and tooling files (compose, Dockerfile, .dockerignore, .env.example, CI, git hooks)
agree with the code they start and with each other.

No Docker is needed: the files are parsed, and every command they run is resolved against this checkout.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
OVERRIDE_FILE = ROOT / "compose.override.yaml"  # development: `docker compose up` reads both
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

SETTINGS_ENV_NAMES = frozenset(name.upper() for name in Settings.model_fields)
ROOT_USERS = frozenset({"root", "0"})
WORKERS = ["worker", "worker-critical", "worker-bulk"]  # one pool per priority (arqkit/priorities.py)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")
_ENV_EXPLANATION = re.compile(r"^#(?!\s*---)")  # a comment, but not a `# --- Section ---` heading


# --- helpers ------------------------------------------------------------------------------------------


@cache
def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@cache
def _override() -> dict[str, Any]:
    loaded = yaml.safe_load(OVERRIDE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _service(name: str, compose: dict[str, Any] | None = None) -> dict[str, Any]:
    service = (compose or _compose())["services"][name]
    assert isinstance(service, dict)
    return service


def _argv(command: str | list[Any]) -> list[str]:
    """A Compose `command` or healthcheck `test`, as the argument list it runs."""
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either of Compose's spellings (mapping or list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    return dict(str(item).partition("=")[::2] for item in env)


def _duration_seconds(value: str | int | float) -> float:
    """A Compose duration such as `45s` or `1m30s`."""
    if isinstance(value, int | float):
        return float(value)
    parts = _DURATION_PART.findall(value)
    assert parts, f"{value!r} is not a Compose duration"
    assert "".join(number + unit for number, unit in parts) == value, f"{value!r} is not a Compose duration"
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def _env_example_names() -> list[str]:
    return [m.group(1) for line in _env_example_lines() if (m := _ENV_LINE.match(line))]


# --- compose.yaml: the services -----------------------------------------------------------------------


def test_compose_yaml_is_what_you_deploy_redis_the_api_and_a_worker_pool_per_queue() -> None:
    assert set(_compose()["services"]) == {"redis", "api", *WORKERS}


def test_compose_yaml_alone_runs_in_production_so_a_default_admin_token_is_refused() -> None:
    """Fixed, never `${ENVIRONMENT:-...}`: compose fills that from `.env`, a copy of .env.example
    (tests/tooling/test_compose_production.py runs the interpolation)."""
    for name in ["api", *WORKERS]:
        assert _environment(_service(name))["ENVIRONMENT"] == "production"


def test_the_override_adds_the_mail_sink_and_development_for_docker_compose_up() -> None:
    assert "mailsink" in _override()["services"]
    for name in ["api", *WORKERS]:
        environment = _environment(_service(name, _override()))
        assert environment["ENVIRONMENT"] == "development"
        assert urlsplit(environment["EMAIL_API_URL"].split(":-", 1)[1]).hostname == "mailsink"


@pytest.mark.parametrize("name", WORKERS)
def test_in_development_every_worker_waits_for_the_mail_sink(name: str) -> None:
    depends_on = _service(name, _override())["depends_on"]

    assert depends_on["mailsink"]["condition"] == "service_healthy"


def test_compose_runs_a_worker_pool_for_each_priority_queue() -> None:
    commands = {name: _argv(_service(name)["command"]) for name in WORKERS}

    assert commands == {
        "worker": ["arq", "jobs.WorkerSettings"],
        "worker-critical": ["arq", "jobs.CriticalWorkerSettings"],
        "worker-bulk": ["arq", "jobs.BulkWorkerSettings"],
    }


def test_compose_has_no_obsolete_version_key() -> None:
    assert "version" not in _compose()


# --- compose.yaml: redis ------------------------------------------------------------------------------


def test_redis_writes_an_append_only_file() -> None:
    argv = _argv(_service("redis")["command"])

    assert argv[argv.index("--appendonly") + 1] == "yes"


def test_redis_never_evicts_keys_when_memory_is_full() -> None:
    argv = _argv(_service("redis")["command"])

    assert argv[argv.index("--maxmemory-policy") + 1] == "noeviction"


def test_redis_data_lives_in_a_named_volume() -> None:
    named_volumes = set(_compose().get("volumes") or {})
    mounts = [str(v).split(":") for v in _service("redis").get("volumes", [])]

    assert any(source in named_volumes and target == "/data" for source, target, *_ in mounts)


def test_redis_has_a_ping_healthcheck() -> None:
    assert _argv(_service("redis")["healthcheck"]["test"])[-2:] == ["redis-cli", "ping"]


# --- compose.yaml: api and worker ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api", *WORKERS])
def test_app_service_has_a_healthcheck(name: str) -> None:
    healthcheck = _service(name).get("healthcheck") or {}

    assert not healthcheck.get("disable", False)
    assert healthcheck.get("test")
    assert _argv(healthcheck["test"])[0] != "NONE"


@pytest.mark.parametrize("name", ["api", *WORKERS])
def test_app_service_starts_only_after_redis_is_healthy(name: str) -> None:
    assert _service(name)["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["api", *WORKERS])
def test_app_service_reaches_redis_by_its_service_name(name: str) -> None:
    assert urlsplit(_environment(_service(name))["REDIS_URL"]).hostname == "redis"


def test_api_healthcheck_probes_healthz_on_the_port_the_api_serves() -> None:
    api = _service("api")
    command = _argv(api["command"])
    port = command[command.index("--port") + 1]

    assert f"http://127.0.0.1:{port}/healthz" in " ".join(_argv(api["healthcheck"]["test"]))


@pytest.mark.parametrize("name", WORKERS)
def test_worker_healthcheck_checks_the_worker_settings_it_runs(name: str) -> None:
    worker = _service(name)
    settings_path = _argv(worker["command"])[1]

    assert _argv(worker["healthcheck"]["test"]) == ["CMD", "arq", settings_path, "--check"]


@pytest.mark.parametrize("name", WORKERS)
def test_worker_has_no_container_name_so_it_can_scale(name: str) -> None:
    assert "container_name" not in _service(name)


@pytest.mark.parametrize("name", WORKERS)
def test_worker_publishes_no_host_ports_so_it_can_scale(name: str) -> None:
    assert not _service(name).get("ports")


@pytest.mark.parametrize("name", WORKERS)
def test_worker_stop_grace_period_outlasts_job_completion_wait(name: str) -> None:
    worker = _service(name)
    default_wait = Settings.model_fields["job_completion_wait_seconds"].default
    wait = float(_environment(worker).get("JOB_COMPLETION_WAIT_SECONDS", default_wait))

    assert _duration_seconds(worker.get("stop_grace_period", "10s")) > wait


# --- compose.yaml: every command starts real code ------------------------------------------------------


def test_api_command_points_at_an_importable_asgi_app() -> None:
    argv = _argv(_service("api")["command"])
    assert argv[0] == "uvicorn"
    module_name, _, attribute = argv[1].partition(":")

    target = getattr(importlib.import_module(module_name), attribute)

    assert callable(target)


def test_every_way_of_starting_the_api_turns_uvicorns_proxy_headers_off() -> None:
    """TRUSTED_PROXIES alone decides whose X-Forwarded-For is believed (tests/e2e/test_client_address.py)."""
    dockerfile_cmd = next(args for keyword, args in _final_stage() if keyword == "CMD")

    assert "--no-proxy-headers" in _argv(_service("api")["command"])
    assert '"--no-proxy-headers"' in dockerfile_cmd
    assert '"--no-proxy-headers"' in (ROOT / "scripts" / "dev.py").read_text()


@pytest.mark.parametrize("name", WORKERS)
def test_worker_command_points_at_existing_worker_settings(name: str) -> None:
    argv = _argv(_service(name)["command"])
    assert argv[0] == "arq"
    module_name, _, attribute = argv[1].rpartition(".")

    assert hasattr(importlib.import_module(module_name), attribute)


def test_mailsink_command_points_at_a_runnable_module() -> None:
    argv = _argv(_service("mailsink", _override())["command"])
    assert argv[:2] == ["python", "-m"]

    assert importlib.util.find_spec(argv[2]) is not None


# --- Dockerfile -------------------------------------------------------------------------------------------


def test_dockerfile_has_separate_build_and_runtime_stages() -> None:
    stages = [arguments for keyword, arguments in _dockerfile_instructions() if keyword == "FROM"]

    assert len(stages) >= 2


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [arguments for keyword, arguments in _final_stage() if keyword == "USER"]

    assert users, "the runtime stage has no USER, so it runs as root"
    assert users[-1].split(":")[0] not in ROOT_USERS


def test_dockerfile_copies_every_top_level_module_of_the_project() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    top_level = packages | {f"{m}.py" for m in setuptools["py-modules"]}
    sources = {
        source.rstrip("/")
        for keyword, arguments in _final_stage()
        if keyword == "COPY" and "--from" not in arguments
        for source in shlex.split(arguments)[:-1]
    }

    assert top_level <= sources


def _build_stage_runs() -> list[str]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return [arguments for keyword, arguments in instructions[:last_from] if keyword == "RUN"]


def test_the_image_installs_the_locked_runtime_dependencies_only_with_uv() -> None:
    [sync] = [run for run in _build_stage_runs() if "uv sync" in run]

    assert "--frozen" in sync  # exactly uv.lock, with its hashes; never re-resolved
    assert "--no-default-groups" in sync  # no test or bench tools, no embedded Redis
    assert "--mount=type=cache,target=/root/.cache/uv" in sync
    assert ("ENV", "UV_COMPILE_BYTECODE=1") in [
        (keyword, part) for keyword, arguments in _dockerfile_instructions() for part in arguments.split()
    ]


def test_the_image_and_the_scripts_use_the_same_uv() -> None:
    bootstrap = (ROOT / "scripts" / "_bootstrap.py").read_text()
    [version] = re.findall(r'^UV_VERSION = "([^"]+)"', bootstrap, re.MULTILINE)

    assert any(f"uv=={version}" in run for run in _build_stage_runs())


def _dockerignore_allowed() -> set[str]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


def test_the_build_context_is_only_what_the_image_needs() -> None:
    """.dockerignore excludes everything, then lets in exactly the files the Dockerfile copies or mounts."""
    used = {
        source.rstrip("/")
        for keyword, arguments in _dockerfile_instructions()
        if keyword == "COPY" and "--from" not in arguments
        for source in shlex.split(arguments)[:-1]
    } | set(re.findall(r"--mount=type=bind,source=([^,\s]+)", DOCKERFILE.read_text()))
    lines = (ROOT / ".dockerignore").read_text().splitlines()

    assert next(line for line in lines if line and not line.startswith("#")) == "*"
    assert _dockerignore_allowed() == used


# --- CI and git hooks ---------------------------------------------------------------------------------


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    [command] = re.findall(r"^(python3 scripts/test\.py)\s+#", readme, re.MULTILINE)
    return str(command)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_run = (ROOT / ".ci" / "run").read_text().strip().splitlines()

    assert ci_run[-1] == _readme_test_command()


def test_the_github_workflow_runs_the_readme_test_command_too() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    runs = [step.get("run") for job in workflow["jobs"].values() for step in job["steps"]]

    assert _readme_test_command() in runs


def test_the_git_hooks_are_the_test_commands_linters_from_the_venv() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook["entry"] for repo in config["repos"] for hook in repo["hooks"]}

    assert hooks == {
        "ruff": ".venv/bin/ruff check --fix",
        "ruff-format": ".venv/bin/ruff format",
        "mypy": ".venv/bin/mypy",
    }


# --- .env.example -----------------------------------------------------------------------------------------


def test_env_example_names_every_setting() -> None:
    assert SETTINGS_ENV_NAMES - set(_env_example_names()) == set()


def test_env_example_names_only_real_settings() -> None:
    assert set(_env_example_names()) - SETTINGS_ENV_NAMES == set()


def test_env_example_names_each_setting_once() -> None:
    names = _env_example_names()

    assert len(names) == len(set(names))


def test_env_example_explains_each_setting_in_a_comment_above_it() -> None:
    lines = _env_example_lines()

    uncommented = [
        line
        for i, line in enumerate(lines)
        if _ENV_LINE.match(line) and not _ENV_EXPLANATION.match(lines[i - 1])
    ]

    assert uncommented == []


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_ENV_NAMES:  # only the file's values, not this shell's
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=ENV_EXAMPLE)

    assert settings.environment == "development"
