"""HTTP plumbing that ships with the template: the app factory, dependencies, errors, middleware, rate
limiting, metrics, the job status routes and the admin (API and dashboard). You add routes in
`api/routes/`, not here."""
