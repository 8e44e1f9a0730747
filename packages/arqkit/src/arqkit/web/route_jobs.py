"""The jobs a route names, so the app refuses to start when one of them is not registered: a job missing
from the registry would be accepted with a 202 and then fail on every worker (`function ... not found`).

A route names a job by enqueuing it by reference (`queue.enqueue(send_invoice, ...)`): the job is a
global of the route's module that the endpoint's code refers to. A job reached through a helper function
is not seen here; its enqueue still refuses it (`JobNotRegistered`, a 500), before anything is written.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

from fastapi import FastAPI

from arqkit.job import JobDefinition
from arqkit.registry import Registry
from arqkit.web.rate_limit import api_routes


def unregistered_jobs(app: FastAPI, registry: Registry) -> list[str]:
    """`METHOD path enqueues 'name'` for each job a route names that `registry` does not hold."""
    return [
        f"{','.join(sorted(route.methods or ()))} {route.path} enqueues {definition.name!r}"
        for route in api_routes(app.routes)
        for definition in _jobs_named_by(route.endpoint)
        if registry.get(definition.name) is not definition
    ]


def _jobs_named_by(endpoint: Callable[..., Any]) -> list[JobDefinition[..., Any]]:
    function = inspect.unwrap(endpoint)
    code, scope = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    if code is None:
        return []
    found = {id(value): value for name in _names(code) if isinstance(value := scope.get(name), JobDefinition)}
    return list(found.values())


def _names(code: CodeType) -> Iterator[str]:
    """The global names a function's code (and the code nested in it) refers to."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _names(constant)
