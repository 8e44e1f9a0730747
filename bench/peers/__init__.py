"""Minimal apps and workers of the peer queue libraries, each run from its own venv (`bench/peers.py`)."""
