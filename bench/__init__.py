"""Side-by-side benchmarks: `python3 bench/run.py` (see docs/benchmarks.md)."""
