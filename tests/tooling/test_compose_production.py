"""`docker compose -f compose.yaml up` cannot run production with development values (issue 21, finding
4): compose fills `${...}` from `.env`, usually a copy of .env.example (development values), so the
file fixes ENVIRONMENT=production, requires ADMIN_TOKEN, and the settings refuse in production what
.env.example holds (the default token, an empty JOB_ID_SECRET, no email provider URL).

The interpolation is compose's, reproduced here (`${NAME}`, `${NAME:-default}`, `${NAME-default}`,
`${NAME:?error}`, `${NAME?error}`, `$$`); where the `docker compose` client is installed, the last
test asks it too (it needs no engine for `config`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["api", "worker", "worker-critical", "worker-bulk"]
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
STRONG = {
    "ADMIN_TOKEN": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "JOB_ID_SECRET": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    "CONTAINER_EMAIL_API_URL": "https://mail.example.com/send",
}


class Unset(Exception):
    """A `${NAME:?error}` whose NAME is unset: compose refuses the file."""


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name)
        missing = value is None or (operator is not None and operator.startswith(":") and value == "")
        if operator in {"?", ":?"} and missing:
            raise Unset(f"{name}: {argument}")
        if operator in {"-", ":-"} and missing:
            return argument
        return value or ""

    return _REFERENCE.sub(one, text)


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {name: value for name, value in pairs}


def app_environments(env: dict[str, str]) -> dict[str, dict[str, str]]:
    compose: dict[str, Any] = yaml.safe_load(interpolate((ROOT / "compose.yaml").read_text(), env))
    return {
        name: {k: str(v) for k, v in compose["services"][name]["environment"].items()}
        for name in APP_SERVICES
    }


def settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in Settings.model_fields:  # only the container's environment, not this shell's
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_a_copy_of_env_example_cannot_switch_compose_to_development(monkeypatch: pytest.MonkeyPatch) -> None:
    environments = app_environments(dotenv(ROOT / ".env.example"))

    for name, environment in environments.items():
        assert environment["ENVIRONMENT"] == "production", name
        with pytest.raises(ValidationError, match="ADMIN_TOKEN is too weak"):
            settings_from(environment, monkeypatch)


def test_compose_refuses_to_start_without_an_admin_token() -> None:
    with pytest.raises(Unset, match="ADMIN_TOKEN"):
        app_environments({})


@pytest.mark.parametrize(
    ("unset", "refusal"),
    [("JOB_ID_SECRET", "JOB_ID_SECRET is too weak"), ("CONTAINER_EMAIL_API_URL", "EMAIL_API_URL must be")],
)
def test_production_refuses_a_missing_secret_or_provider_url(
    unset: str, refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {name: value for name, value in STRONG.items() if name != unset}

    with pytest.raises(ValidationError, match=refusal):
        settings_from(app_environments(env)["api"], monkeypatch)


def test_production_starts_with_its_secrets_and_provider_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(app_environments(STRONG)["api"], monkeypatch)

    assert (settings.environment, settings.email_api_url) == ("production", STRONG["CONTAINER_EMAIL_API_URL"])


def _docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if legacy := shutil.which("docker-compose"):
        return [legacy]
    pytest.skip("neither `docker compose` (the compose plugin) nor docker-compose is installed")


def test_docker_compose_itself_reads_production_from_a_copy_of_env_example(tmp_path: Path) -> None:
    compose = _docker_compose()
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")

    done = subprocess.run(
        [*compose, "-f", "compose.yaml", "config", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    for name in APP_SERVICES:
        assert config["services"][name]["environment"]["ENVIRONMENT"] == "production"
