"""The Kubernetes manifests (deploy/k8s) are valid and agree with the code they start.

Built-in kinds are validated, strictly (no unknown field), against the Kubernetes 1.37 schemas that the
`kubernetes-validate` package ships (it reads them from the package: no network). KEDA's ScaledObject
is not in those schemas, and KEDA's CRD is not vendored here: the ScaledObjects are checked structurally
below, against the `spec` and trigger fields of the ScaledObject CRD of KEDA v2.20.2 (kedacore/keda,
config/crd/bases/keda.sh_scaledobjects.yaml, keda.sh/v1alpha1; trigger metadata is a map of strings
there), plus what only this project knows: which Deployment serves which queue, and which metric says
how deep it is.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from arqkit import priorities

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37"
SETTINGS = Settings()
SETTINGS_ENV_NAMES = frozenset(name.upper() for name in Settings.model_fields)
WORKER_POOLS = {"worker": "default", "worker-critical": "critical", "worker-bulk": "bulk"}
# KEDA v2.20.2's ScaledObject `spec` fields (keda.sh/v1alpha1 CRD); anything else is a typo KEDA rejects.
SCALED_OBJECT_FIELDS = frozenset(
    {
        "scaleTargetRef",
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "idleReplicaCount",
        "minReplicaCount",
        "maxReplicaCount",
        "fallback",
        "advanced",
        "triggers",
    }
)
TRIGGER_FIELDS = frozenset(
    {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
)
PROMETHEUS_REQUIRED = frozenset({"serverAddress", "query", "threshold"})


@cache
def _kustomization() -> dict[str, Any]:
    loaded = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@cache
def _resources() -> tuple[dict[str, Any], ...]:
    docs = []
    for name in _kustomization()["resources"]:
        docs += [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return tuple(docs)


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _resources() if doc["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _config() -> dict[str, str]:
    data: dict[str, str] = _of_kind("ConfigMap")["app-config"]["data"]
    return data


def _built_in() -> list[dict[str, Any]]:
    return [doc for doc in _resources() if not doc["apiVersion"].startswith("keda.sh/")]


# --- the files ---------------------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_in_the_folder() -> None:
    listed = set(_kustomization()["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert listed == present


@pytest.mark.parametrize("doc", _built_in(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_built_in_resource_is_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises with the bad field's path


def test_the_schema_validator_rejects_an_unknown_field() -> None:
    """Guards the test above: strict validation really looks at the fields."""
    deployment = _of_kind("Deployment")["api"]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_configuration_names_only_real_settings() -> None:
    secret_names = set(_of_kind("Secret")["app-secrets"]["stringData"])

    assert set(_config()) | secret_names <= SETTINGS_ENV_NAMES


def test_configuration_values_are_valid_settings() -> None:
    env = {**_config(), **_of_kind("Secret")["app-secrets"]["stringData"], "ENVIRONMENT": "development"}
    settings = Settings(**{name.lower(): yaml.safe_load(value) for name, value in env.items()})

    assert settings.redis_url.startswith("redis://redis:")


def test_the_placeholder_admin_token_is_refused_in_production() -> None:
    """Someone who applies the manifests unchanged gets a pod that refuses to start, not an open admin."""
    assert _config()["ENVIRONMENT"] == "production"
    with pytest.raises(ValueError, match="ADMIN_TOKEN"):
        Settings(
            environment="production",
            admin_token=_of_kind("Secret")["app-secrets"]["stringData"]["ADMIN_TOKEN"],
        )


# --- the pods ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api", *WORKER_POOLS])
def test_pod_runs_as_the_images_non_root_user_with_config_and_secrets(name: str) -> None:
    pod = _of_kind("Deployment")[name]["spec"]["template"]["spec"]
    container = _container(_of_kind("Deployment")[name])

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    assert pod["enableServiceLinks"] is False  # no REDIS_PORT=tcp://... in the settings' environment
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]} == {
        "app-config",
        "app-secrets",
    }


def test_api_runs_the_asgi_app_with_proxy_headers_off() -> None:
    command = _container(_of_kind("Deployment")["api"])["command"]
    module_name, _, attribute = command[1].partition(":")

    assert command[0] == "uvicorn"
    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert "--no-proxy-headers" in command


def test_api_probes_healthz_for_liveness_and_readyz_for_readiness_on_its_port() -> None:
    container = _container(_of_kind("Deployment")["api"])
    port = int(container["command"][container["command"].index("--port") + 1])

    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [port]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_api_grace_period_outlasts_its_pre_stop_pause_and_graceful_shutdown() -> None:
    deployment = _of_kind("Deployment")["api"]
    container = _container(deployment)
    command = container["command"]
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]

    assert graceful > SETTINGS.job_events_max_seconds  # an open events stream ends before the stop
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pre_stop + graceful


@pytest.mark.parametrize(("name", "priority"), WORKER_POOLS.items())
def test_each_queue_has_a_worker_deployment_running_its_settings(name: str, priority: str) -> None:
    command = _container(_of_kind("Deployment")[name])["command"]
    module_name, _, attribute = command[1].rpartition(".")
    worker_settings = getattr(importlib.import_module(module_name), attribute)

    assert command[0] == "arq"
    assert worker_settings.queue_name == priorities.queue_name(SETTINGS, priority)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", WORKER_POOLS)
def test_worker_probes_are_arq_check_of_the_settings_it_runs(name: str) -> None:
    container = _container(_of_kind("Deployment")[name])

    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == [*container["command"], "--check"]


@pytest.mark.parametrize("name", WORKER_POOLS)
def test_worker_grace_period_outlasts_job_completion_wait(name: str) -> None:
    grace = _of_kind("Deployment")[name]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    assert grace > int(_config()["JOB_COMPLETION_WAIT_SECONDS"])


@pytest.mark.parametrize("name", ["api", *WORKER_POOLS])
def test_autoscaled_deployment_leaves_replicas_to_its_autoscaler(name: str) -> None:
    """An apply would otherwise reset the replica count the autoscaler chose."""
    assert "replicas" not in _of_kind("Deployment")[name]["spec"]


def test_api_autoscaler_targets_the_api_deployment() -> None:
    assert _of_kind("HorizontalPodAutoscaler")["api"]["spec"]["scaleTargetRef"]["name"] == "api"


def test_every_selector_matches_its_pods() -> None:
    pods = {
        name: deployment["spec"]["template"]["metadata"]["labels"]
        for name, deployment in {**_of_kind("Deployment"), **_of_kind("StatefulSet")}.items()
    }
    selectors = [service["spec"]["selector"] for service in _of_kind("Service").values()]
    selectors += [
        budget["spec"]["selector"]["matchLabels"] for budget in _of_kind("PodDisruptionBudget").values()
    ]

    for selector in selectors:
        assert any(selector.items() <= labels.items() for labels in pods.values()), selector


def test_redis_keeps_an_append_only_file_and_never_evicts() -> None:
    args = _container(_of_kind("StatefulSet")["redis"])["args"]

    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"


# --- KEDA ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "priority"), WORKER_POOLS.items())
def test_each_worker_pool_scales_on_its_own_queue_depth(name: str, priority: str) -> None:
    scaled = _of_kind("ScaledObject")[name]
    queue = priority  # the metrics name a queue by its priority, as every surface does
    (trigger,) = scaled["spec"]["triggers"]
    query = trigger["metadata"]["query"]

    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {"name": name}
    assert trigger["type"] == "prometheus"
    assert f'jobs_queue_depth{{queue="{queue}"}}' in query
    assert f'jobs_in_progress{{queue="{queue}"}}' in query
    # Every API pod reports the same cluster-wide gauges: max() over pods, a sum() would multiply them.
    assert query.startswith("max(")
    assert "sum(" not in query


@pytest.mark.parametrize("name", WORKER_POOLS)
def test_scaled_object_has_only_keda_fields_of_the_right_types(name: str) -> None:
    spec = _of_kind("ScaledObject")[name]["spec"]

    assert set(spec) <= SCALED_OBJECT_FIELDS
    assert {"scaleTargetRef", "triggers"} <= set(spec)
    for field in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        assert isinstance(spec[field], int), field
        assert spec[field] >= 0, field
    assert spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert set(spec["fallback"]) == {"failureThreshold", "replicas"}
    assert set(spec["advanced"]) <= {
        "horizontalPodAutoscalerConfig",
        "restoreToOriginalReplicaCount",
        "scalingModifiers",
    }
    for trigger in spec["triggers"]:
        assert set(trigger) <= TRIGGER_FIELDS
        assert set(trigger["metadata"]) >= PROMETHEUS_REQUIRED
        # KEDA's CRD types trigger metadata as a map of strings: a bare YAML number is rejected.
        assert all(isinstance(value, str) for value in trigger["metadata"].values())
        assert float(trigger["metadata"]["threshold"]) > 0
        assert re.fullmatch(r"https?://[^\s]+", trigger["metadata"]["serverAddress"])


def test_the_cron_pool_never_scales_to_zero() -> None:
    """Cron fires from the default pool only, and /readyz waits for a live worker."""
    assert _of_kind("ScaledObject")["worker"]["spec"]["minReplicaCount"] >= 1


def test_the_scaled_objects_hpa_behaviour_is_a_valid_kubernetes_behaviour() -> None:
    """KEDA hands `advanced.horizontalPodAutoscalerConfig` to an HPA it makes: validate it as one."""
    for name, scaled in _of_kind("ScaledObject").items():
        behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "maxReplicas": scaled["spec"]["maxReplicaCount"],
                "behavior": behavior,
            },
        }
        kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
