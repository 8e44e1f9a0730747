"""What the service's tests share besides fixtures: where the repository is, how long a process may
take to start, which processes a process started."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: child processes run here
# How long a waiting test allows a worker or API process to start: its imports alone take seconds on a
# busy 2-core machine running the suite in parallel. A wait ends as soon as its condition holds.
PROCESS_START_SECONDS = 60.0


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = [int(child) for child in (task / "children").read_text().split()]
            found += children
            pending += children
    return found
