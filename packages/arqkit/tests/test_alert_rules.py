"""The alert rules arqkit ships (arqkit/alerts/): valid rules, each one unit-tested with promtool to fire on
its first event, written against the metrics and queue names /metrics really has."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from arqkit import metrics, priorities
from arqkit.alerts import RULE_TESTS, RULES
from arqkit.web.prometheus import _PER_QUEUE_GAUGES


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "no promtool on PATH: it ships in Debian's `prometheus` package (apt-get install prometheus); "
            "the alert rules' unit tests need it"
        )
    return found


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _series_names() -> set[str]:
    """Every sample name /metrics can answer with, and Prometheus's own `up`."""
    names = {"up", "redis_up", "jobs_dead_letters", *_PER_QUEUE_GAUGES}
    names |= {spec.name + "_total" for spec in (*metrics.COUNTERS, metrics.HTTP_REQUESTS)}
    names |= {spec.name + suffix for spec in metrics.HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    return names


def test_the_rules_are_valid_prometheus_rules() -> None:
    checked = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_on_its_first_event_in_promtools_unit_tests() -> None:
    tested = subprocess.run(
        [_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, cwd=RULE_TESTS.parent
    )

    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    fired = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }

    assert fired == {rule["alert"] for rule in _rules()}


def test_the_rules_name_only_series_and_queues_that_metrics_has() -> None:
    for rule in _rules():
        metric_names = set(re.findall(r"\b(?:jobs|http|redis)_[a-z_]+\b|\bup\b", rule["expr"]))
        assert metric_names <= _series_names(), (rule["alert"], metric_names - _series_names())
        for queue in re.findall(r'queue="([^"]*)"', rule["expr"]):
            assert queue in priorities.PRIORITIES, (rule["alert"], queue)
