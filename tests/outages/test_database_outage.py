"""PostgreSQL taken away behind a proxy: every route answers 503 in its envelope (never 500),
within a bound, and everything works again once it is back, without a restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text

from chatbot_api.core.errors import DEFAULT_MESSAGE
from tests.outages.pg_proxy import CutMode, PgProxy
from tests.outages.routes import API_KEY, NO_DATABASE, Call, calls, world

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)

# The chat turn's own routes (the lead's): a 503 in the envelope, whatever its code.
TURN_ROUTES = {"POST /api/chat", "GET /api/chat/{id}/stream", "POST /api/chat/{id}/stop"}
# A request's longest wait with the test's 1 s timeouts: pool wait, connect, or a statement
# and the 2 s SQLAlchemy gives a silent connection to close; plus slack for a busy machine.
BOUND_SECONDS = 6.0


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return {**settings_overrides, "assistant_cloud_api_keys": API_KEY}


def operations(app: FastAPI) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
    }


async def timed(client: httpx.AsyncClient, call: Call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call.send(client)
    return response, time.monotonic() - started


def check_outage_answer(call: Call, response: httpx.Response, elapsed: float) -> None:
    """What a client sees from `call` while the database is away."""
    name, status = call.name, response.status_code
    assert status != 500, f"{name} answered 500: {response.text}"
    assert elapsed < BOUND_SECONDS, f"{name} took {elapsed:.1f} s"
    if name in NO_DATABASE:
        assert status == call.ok, f"{name} needs no database: {status} {response.text}"
        return
    assert status == 503, f"{name}: {status} {response.text}"
    body = response.json()
    if name == "GET /health/ready":
        assert body["checks"]["database"].startswith("error"), f"{name}: {body}"
    elif name.split(" ", 1)[1].startswith("/v1/"):
        assert body == {"message": DEFAULT_MESSAGE, "error": "offline:database"}, name
        assert response.headers.get("retry-after") == "5", name
    elif name in TURN_ROUTES:
        assert isinstance(body.get("message"), str), f"{name}: {body}"
        assert body.get("code") in ("", "offline:chat", "offline:database"), f"{name}: {body}"
    else:
        assert body == {"code": "", "message": DEFAULT_MESSAGE}, f"{name}: {body}"
        assert response.headers.get("retry-after") == "5", name


@pytest.mark.parametrize("mode", ["refuse", "reset", "starting", "blackhole"])
async def test_every_route_answers_503_while_the_database_is_cut_and_works_after(
    app: FastAPI, client: httpx.AsyncClient, pg: PgProxy, mode: CutMode
) -> None:
    """Every route of the OpenAPI document, called as a client would (a token made before the
    cut, real ids and bodies): none answers 500, each that needs the database answers 503 in
    its envelope within the bound, the others keep working; once the database is back the
    same requests succeed, in the same process."""
    table = calls(await world(app, client))
    assert {call.name for call in table} == operations(app), "a route has no request here"

    await pg.cut(mode)
    answers = await asyncio.gather(*(timed(client, call) for call in table))
    for call, (response, elapsed) in zip(table, answers, strict=True):
        check_outage_answer(call, response, elapsed)

    await pg.restore()
    for call in table:
        response = await call.send(client)
        assert response.status_code == call.ok, f"{call.name}: {response.text}"


@pytest.mark.parametrize("mode", ["refuse", "reset", "blackhole"])
async def test_first_request_after_an_unnoticed_outage_succeeds(
    app: FastAPI, client: httpx.AsyncClient, pg: PgProxy, mode: CutMode
) -> None:
    """The database goes away and comes back while the pool sits idle (a restart at night):
    the pooled connections it closed are replaced on checkout, so no request fails."""
    w = await world(app, client)
    history = next(c for c in calls(w) if c.name == "GET /api/history")
    await asyncio.gather(*(history.send(client) for _ in range(4)))  # several pooled
    assert app.state.engine.sync_engine.pool.checkedin() >= 2

    await pg.cut(mode)
    await asyncio.sleep(0.05)
    await pg.restore()

    for _ in range(3):
        response = await history.send(client)
        assert response.status_code == 200, response.text


async def test_a_database_that_stops_answering_cannot_hang_a_request(
    app: FastAPI, client: httpx.AsyncClient, pg: PgProxy
) -> None:
    """A partition: the pooled connection stays open but nothing comes back. The statement
    timeout ends the request with a 503, later ones fail as fast as connecting does, and
    once the database answers again so does the app."""
    w = await world(app, client)
    by_name = {call.name: call for call in calls(w)}
    reads = [by_name[name] for name in ("GET /api/history", "GET /v1/threads")]
    writes = [by_name[name] for name in ("POST /api/auth/login", "PATCH /api/vote")]

    await pg.cut("blackhole", stall_open=True)
    for call in [*reads, *writes]:
        response, elapsed = await timed(client, call)
        check_outage_answer(call, response, elapsed)
    assert app.state.engine.sync_engine.pool.checkedout() == 0

    await pg.restore()
    for call in [*reads, *writes]:
        response = await call.send(client)
        assert response.status_code == call.ok, f"{call.name}: {response.text}"


async def test_a_database_error_raised_outside_the_request_session_is_a_503(
    app: FastAPI, client: httpx.AsyncClient, pg: PgProxy
) -> None:
    """Code that opens its own connection (a dependency, a background-style service) gets
    the same answer as a route's session: 503 in the envelope of its API, never 500."""

    async def own_connection(request: Request) -> dict[str, int]:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"ok": 1}

    app.add_api_route("/api/own-connection", own_connection)
    app.add_api_route("/v1/own-connection", own_connection)
    await pg.cut("reset")

    ours = await client.get("/api/own-connection")
    cloud = await client.get("/v1/own-connection")

    assert (ours.status_code, cloud.status_code) == (503, 503)
    assert ours.json() == {"code": "", "message": DEFAULT_MESSAGE}
    assert cloud.json() == {"message": DEFAULT_MESSAGE, "error": "offline:database"}
    assert ours.headers["retry-after"] == cloud.headers["retry-after"] == "5"
    await pg.restore()
    assert (await client.get("/api/own-connection")).json() == {"ok": 1}
