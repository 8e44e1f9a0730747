"""`python -m tests.service <command>`: the operator CLI for the fixture service's jobs."""

from arqkit.cli import main
from tests.service.registry import REGISTRY

raise SystemExit(main(REGISTRY))
