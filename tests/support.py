"""What the service's tests share besides fixtures: where the repository is, how long a process may
take to start."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: child processes run here
# How long a waiting test allows a worker or API process to start: its imports alone take seconds on a
# busy 2-core machine running the suite in parallel. A wait ends as soon as its condition holds.
PROCESS_START_SECONDS = 60.0
