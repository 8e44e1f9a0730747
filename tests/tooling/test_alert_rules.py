"""deploy/prometheus/alerts.yml: the alert rules arqkit ships (its suite checks them with promtool), deployed
as a copy that stays equal to them, and shown in docs/observability.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from arqkit.alerts import RULES as SHIPPED

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
OBSERVABILITY = ROOT / "docs" / "observability.md"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_deployed_rules_are_the_ones_arqkit_ships() -> None:
    """After an upgrade of arqkit this fails until the new rules are deployed: `cp` the file it names."""
    assert RULES.read_text() == SHIPPED.read_text(), f"cp {SHIPPED} {RULES.relative_to(ROOT)}"


def test_the_observability_docs_link_the_rules_and_name_every_alert() -> None:
    text = OBSERVABILITY.read_text()

    assert "../deploy/prometheus/alerts.yml" in text
    for rule in _rules():
        assert f"`{rule['alert']}`" in text, rule["alert"]
