"""A small service built on arqkit the way a team builds one, for the package's own tests: settings that
extend `QueueSettings`, a few jobs with a worker lifespan, their registry and workers, and an app with
producer routes. The template's examples (`jobs/`, `api/`) are never imported here."""
