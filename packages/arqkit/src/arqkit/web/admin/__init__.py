"""The operator's side, behind the admin token: the admin API and the live dashboard (`/admin`).

An app mounts all of it with one line: `admin.install(app)`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from arqkit.web.admin import dashboard, operations, views


def install(app: FastAPI) -> None:
    """Everything under `/admin`: the API, the dashboard page and its files."""
    for module in (operations, views, dashboard):
        app.include_router(module.router)
    app.mount("/admin/static", StaticFiles(directory=dashboard.STATIC_DIR), name="admin-static")
