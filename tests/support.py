"""What the service's tests share besides fixtures: where the repository is."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: child processes run here
