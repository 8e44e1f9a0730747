"""`python -m jobs <command>`: the operator CLI (`arqkit/cli.py`) for this service's jobs."""

from arqkit.cli import main

from jobs.registry import REGISTRY

raise SystemExit(main(REGISTRY))
