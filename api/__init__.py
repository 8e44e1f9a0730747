"""HTTP: the FastAPI app, its routes, dependencies and middleware. Imports `jobs`, never the reverse."""
