"""The routes every service built on the template has: job status, health, metrics."""
