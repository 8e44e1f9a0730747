"""The Prometheus alert rules for the metrics arqkit writes, and their promtool unit tests: a service
deploys a copy of `RULES` (the template keeps deploy/prometheus/alerts.yml equal to it, by a test)."""

from importlib.resources import files
from pathlib import Path

RULES = Path(str(files(__name__) / "alerts.yml"))
RULE_TESTS = Path(str(files(__name__) / "alerts_test.yml"))
