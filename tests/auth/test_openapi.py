"""The auth routes are documented: models, error responses and the bearer scheme."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("db")


async def test_openapi_documents_auth_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/auth/register"]["post"]["responses"]) >= {"201", "400", "409", "429"}
    assert set(paths["/api/auth/login"]["post"]["responses"]) >= {"200", "400", "401", "429"}
    assert set(paths["/api/auth/refresh"]["post"]["responses"]) >= {"200", "401"}
    assert "204" in paths["/api/auth/logout"]["post"]["responses"]
    assert paths["/api/auth/logout"]["post"]["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    token_schema = spec["components"]["schemas"]["TokenResponse"]
    assert set(token_schema["required"]) >= {"access_token", "refresh_token", "expires_in", "user"}
