"""The OpenAPI document lists every chats route with its error responses."""

from __future__ import annotations

import httpx

ROUTES = {
    ("/api/history", "get"),
    ("/api/history", "delete"),
    ("/api/chat", "delete"),
    ("/api/chat/{id}", "get"),
    ("/api/chat/{id}/visibility", "patch"),
    ("/api/chat/{id}/messages", "delete"),
    ("/api/vote", "get"),
    ("/api/vote", "patch"),
}


async def test_openapi_lists_every_chats_route_with_its_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path, method in ROUTES:
        operation = paths[path][method]
        assert "401" in operation["responses"], (path, method)
        assert operation["summary"], (path, method)
    history = {param["name"] for param in paths["/api/history"]["get"]["parameters"]}
    assert history == {"limit", "starting_after", "ending_before"}
    vote_body = paths["/api/vote"]["patch"]["requestBody"]["content"]["application/json"]
    assert vote_body["schema"]["$ref"].endswith("/VoteIn")
    assert "text/plain" in paths["/api/vote"]["patch"]["responses"]["200"]["content"]


async def test_openapi_documents_the_chat_turn_from_its_endpoint(
    client: httpx.AsyncClient,
) -> None:
    """`POST /api/chat` resolves its inputs in its own handler (ChatTurnRoute); its operation
    still comes from the endpoint: the bearer scheme, the body's shapes, every error."""
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/chat"]["post"]

    assert operation["security"] == [{"HTTPBearer": []}]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["oneOf"]) == 3
    assert {"200", "400", "401", "403", "404", "429"} <= set(operation["responses"])
    assert "text/event-stream" in operation["responses"]["200"]["content"]
