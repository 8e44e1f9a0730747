"""Queue jobs with a peer's own client, from its venv: `python -m bench.peers.drive MODULE noops N | sleep`.

MODULE is a worker module that defines `enqueue_noops(count)` and `enqueue_sleep()`.
"""

from __future__ import annotations

import asyncio
import importlib
import sys


def main() -> None:
    module = importlib.import_module(sys.argv[1])
    if sys.argv[2] == "noops":
        asyncio.run(module.enqueue_noops(int(sys.argv[3])))
    else:
        asyncio.run(module.enqueue_sleep())


if __name__ == "__main__":
    main()
