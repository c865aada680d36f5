"""The app starts on both databases and answers its operational endpoints."""

import httpx


async def test_health_ready_reports_database_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_unknown_api_route_answers_json_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found:api"
