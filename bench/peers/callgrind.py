"""Counting only the measured part of a run under callgrind: `start()` before it, `stop()` after it.

`bench/counts.py` runs a process under `valgrind --tool=callgrind --instr-atstart=no` (start-up runs
uninstrumented, five times faster) with `BENCH_CALLGRIND_LIB` naming a tiny library of callgrind's client
requests (`callgrind_toggle.c`); `stop()` dumps the count to a file the harness reads. Without the
variable both are no-ops, so a peer's worker runs as usual. Standard library only: every peer's venv
imports it.
"""

from __future__ import annotations

import ctypes
import os

_PATH = os.environ.get("BENCH_CALLGRIND_LIB")
_LIB = ctypes.CDLL(_PATH) if _PATH else None


def start() -> None:
    if _LIB is not None:
        _LIB.bench_start()


def stop() -> None:
    if _LIB is not None:
        _LIB.bench_stop()
