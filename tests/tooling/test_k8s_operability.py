"""deploy/k8s/ under the operator's eye (issue 22): the bulk pool wakes for one job, Redis refuses writes
before it is OOM-killed and is not ready while it loads, its StatefulSet has a headless Service, no
PodDisruptionBudget blocks a node drain, and docs/deploying.md states the versions the manifests need."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.tooling.test_k8s_manifests import ROOT, _container, _of_kind

DEPLOYING = ROOT / "docs" / "deploying.md"
UNITS = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
QUANTITIES = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}


def _bytes(redis_size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", redis_size.lower()).groups()  # type: ignore[union-attr]
    return int(number) * UNITS.get(unit, 1)


def _quantity(kubernetes_size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", kubernetes_size).groups()  # type: ignore[union-attr]
    return int(number) * QUANTITIES.get(unit, 1)


def test_a_pool_that_scales_to_zero_wakes_for_its_first_job() -> None:
    """KEDA activates a pool at zero when the query's value is above `activationThreshold`."""
    for name, scaled in _of_kind("ScaledObject").items():
        if scaled["spec"]["minReplicaCount"] == 0:
            (trigger,) = scaled["spec"]["triggers"]
            one_job = 1.0
            assert one_job > float(trigger["metadata"].get("activationThreshold", "0")), name


def test_redis_refuses_writes_before_its_container_reaches_its_memory_limit() -> None:
    redis = _container(_of_kind("StatefulSet")["redis"])
    args = redis["args"]

    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert "--maxmemory" in args, "noeviction without maxmemory never refuses a write: the kernel kills Redis"
    limit = _quantity(redis["resources"]["limits"]["memory"])
    assert _bytes(args[args.index("--maxmemory") + 1]) <= 0.8 * limit  # room for the AOF rewrite's fork


@pytest.mark.parametrize(
    ("answer", "ready"), [("PONG", True), ("LOADING Redis is loading the dataset in memory", False)]
)
def test_redis_is_ready_only_once_it_answers_pong(tmp_path: Path, answer: str, ready: bool) -> None:
    """redis-cli prints LOADING and exits 0 while the AOF loads: the probe must read the answer."""
    fake = tmp_path / "redis-cli"
    fake.write_text(f"#!/bin/sh\necho '{answer}'\nexit 0\n")
    fake.chmod(0o755)
    probe = _container(_of_kind("StatefulSet")["redis"])["readinessProbe"]["exec"]["command"]

    ran = subprocess.run(probe, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True)

    assert (ran.returncode == 0) is ready


def test_the_redis_statefulset_is_governed_by_a_headless_service_selecting_its_pods() -> None:
    statefulset = _of_kind("StatefulSet")["redis"]
    service = _of_kind("Service")[statefulset["spec"]["serviceName"]]

    assert service["spec"].get("clusterIP") == "None"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def _minimum_replicas(deployment: str) -> int:
    scaled = [
        s for s in _of_kind("ScaledObject").values() if s["spec"]["scaleTargetRef"]["name"] == deployment
    ]
    hpas = [
        h
        for h in _of_kind("HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]["name"] == deployment
    ]
    if scaled:
        return int(scaled[0]["spec"]["minReplicaCount"])
    if hpas:
        return int(hpas[0]["spec"].get("minReplicas", 1))
    return int(_of_kind("Deployment")[deployment]["spec"].get("replicas", 1))


def _pods_of(budget: dict[str, Any]) -> list[str]:
    selector = budget["spec"]["selector"]["matchLabels"]
    return [
        name
        for name, deployment in _of_kind("Deployment").items()
        if selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    ]


def test_no_disruption_budget_blocks_a_node_drain_at_its_autoscalers_minimum() -> None:
    for name, budget in _of_kind("PodDisruptionBudget").items():
        (deployment,) = _pods_of(budget)
        spec = budget["spec"]
        if "maxUnavailable" in spec:
            assert int(spec["maxUnavailable"]) >= 1, name
        else:
            assert _minimum_replicas(deployment) - int(spec["minAvailable"]) >= 1, name


def test_the_docs_state_the_kubernetes_and_keda_versions_the_manifests_need() -> None:
    text = DEPLOYING.read_text()
    uses_sleep = any(
        "sleep" in _container(d).get("lifecycle", {}).get("preStop", {})
        for d in _of_kind("Deployment").values()
    )

    kubernetes = re.search(r"Kubernetes (\d+)\.(\d+) or later", text)
    keda = re.search(r"KEDA (\d+)\.(\d+) or later", text)
    assert kubernetes, "docs/deploying.md states no minimum Kubernetes version"
    assert keda, "docs/deploying.md states no minimum KEDA version"
    if uses_sleep:  # the preStop `sleep` action: beta and on by default from Kubernetes 1.30
        assert (int(kubernetes[1]), int(kubernetes[2])) >= (1, 30)
    assert (int(keda[1]), int(keda[2])) >= (2, 8)  # activationThreshold and ignoreNullValues: KEDA 2.8
