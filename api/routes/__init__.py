"""Your routes. `producers.py` shows the pattern: validate, enqueue, answer 202."""
