"""One router per area: producers, jobs, health, admin."""
