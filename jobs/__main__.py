"""`python -m jobs <command>`: the operator CLI (`jobs/core/cli.py`) for this service's jobs."""

from jobs.core.cli import main
from jobs.registry import REGISTRY

raise SystemExit(main(REGISTRY))
