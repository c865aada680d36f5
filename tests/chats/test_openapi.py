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
