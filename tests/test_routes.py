"""Every route runs on the event loop: no endpoint or dependency is handed to a worker thread."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _runs_on_the_loop(call: Callable[..., Any]) -> bool:
    """FastAPI awaits coroutine and async-generator callables; plain `def` ones (and classes
    whose `__call__` is one) go to a thread pool: a thread hop on every request."""
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:  # included
            yield from _api_routes(router.routes)
        elif (nested := getattr(route, "routes", None)) is not None:  # a mount
            yield from _api_routes(nested)


def test_endpoints_and_dependencies_are_all_async(app: FastAPI) -> None:
    routes = list(_api_routes(app.routes))
    assert len(routes) > 40
    threaded = sorted(
        f"{sorted(route.methods or ())} {route.path}: {getattr(call, '__qualname__', call)!s}"
        for route in routes
        for call in (route.endpoint, *_calls(route.dependant))
        if not _runs_on_the_loop(call)
    )
    assert threaded == []
