"""`/v1/threads`: create, read, list (pages, archive filter), update, delete, ownership."""

from __future__ import annotations

import uuid

import httpx

from tests import factories
from tests.cloud.conftest import ISO_MS, Pair

THREAD_KEYS = {
    "id",
    "title",
    "is_archived",
    "external_id",
    "metadata",
    "project_id",
    "workspace_id",
    "created_at",
    "updated_at",
    "last_message_at",
}


async def create_thread(client: httpx.AsyncClient, user: factories.TestUser, **body: object) -> str:
    body.setdefault("last_message_at", "2026-11-21T10:00:00.000Z")
    response = await client.post("/v1/threads", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["thread_id"]
    return thread_id


async def test_create_then_get_returns_wrapped_thread_with_nulls_present(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)

    response = await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)

    assert response.status_code == 200
    thread = response.json()["thread"]
    assert set(thread) == THREAD_KEYS
    assert thread["id"] == thread_id
    assert thread["title"] is None
    assert thread["external_id"] is None
    assert thread["metadata"] is None
    assert thread["is_archived"] is False
    assert thread["last_message_at"] == "2026-11-21T10:00:00.000Z"
    for key in ("created_at", "updated_at", "last_message_at"):
        assert ISO_MS.fullmatch(thread[key]), thread[key]
    assert isinstance(thread["project_id"], str)
    assert isinstance(thread["workspace_id"], str)


async def test_create_keeps_title_metadata_and_external_id(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(
        client, users.alice, title="Trip", metadata={"k": [1, 2]}, external_id="ext-1"
    )

    thread = (await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)).json()

    assert thread["thread"]["title"] == "Trip"
    assert thread["thread"]["metadata"] == {"k": [1, 2]}
    assert thread["thread"]["external_id"] == "ext-1"


async def test_create_without_last_message_at_uses_now(
    client: httpx.AsyncClient, users: Pair
) -> None:
    response = await client.post("/v1/threads", json={}, headers=users.alice.headers)

    thread_id = response.json()["thread_id"]
    thread = (await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)).json()
    assert thread["thread"]["last_message_at"] == thread["thread"]["created_at"]


async def test_create_with_bad_fields_names_the_field(
    client: httpx.AsyncClient, users: Pair
) -> None:
    response = await client.post(
        "/v1/threads",
        json={"last_message_at": "yesterday", "title": "x" * 300},
        headers=users.alice.headers,
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "error"}
    assert "last_message_at" in body["message"]
    assert "title" in body["message"]


async def test_create_with_oversized_metadata_is_rejected(
    client: httpx.AsyncClient, users: Pair
) -> None:
    response = await client.post(
        "/v1/threads", json={"metadata": {"blob": "x" * 20_000}}, headers=users.alice.headers
    )

    assert response.status_code == 400
    assert "metadata" in response.json()["message"]


async def test_requests_without_token_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/threads")

    assert response.status_code == 401
    assert set(response.json()) == {"message", "error"}


async def test_requests_with_bad_token_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/threads", headers={"Authorization": "Bearer a.b.c"})

    assert response.status_code == 401


async def test_list_orders_by_last_message_at_newest_first(
    client: httpx.AsyncClient, users: Pair
) -> None:
    old = await create_thread(client, users.alice, last_message_at="2026-01-01T00:00:00.000Z")
    new = await create_thread(client, users.alice, last_message_at="2026-03-01T00:00:00.000Z")
    mid = await create_thread(client, users.alice, last_message_at="2026-02-01T00:00:00.000Z")

    response = await client.get("/v1/threads", headers=users.alice.headers)

    assert [t["id"] for t in response.json()["threads"]] == [new, mid, old]


async def test_list_pages_with_after_cursor_including_ties(
    client: httpx.AsyncClient, users: Pair
) -> None:
    ids = {await create_thread(client, users.alice) for _ in range(5)}  # all the same time

    seen: list[str] = []
    after = None
    for _ in range(5):
        params = {"limit": "2", **({"after": after} if after else {})}
        page = (await client.get("/v1/threads", params=params, headers=users.alice.headers)).json()
        seen.extend(t["id"] for t in page["threads"])
        if len(page["threads"]) < 2:
            break
        after = page["threads"][-1]["id"]

    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5


async def test_list_filters_archived_threads(client: httpx.AsyncClient, users: Pair) -> None:
    active = await create_thread(client, users.alice)
    archived = await create_thread(client, users.alice)
    await client.put(
        f"/v1/threads/{archived}", json={"is_archived": True}, headers=users.alice.headers
    )

    def ids(response: httpx.Response) -> list[str]:
        return [t["id"] for t in response.json()["threads"]]

    headers = users.alice.headers
    assert ids(await client.get("/v1/threads", headers=headers)) == [active]
    default_false = await client.get("/v1/threads?is_archived=false", headers=headers)
    assert ids(default_false) == [active]
    assert ids(await client.get("/v1/threads?is_archived=true", headers=headers)) == [archived]


async def test_list_rejects_limit_out_of_range(client: httpx.AsyncClient, users: Pair) -> None:
    for limit in ("0", "101", "x"):
        response = await client.get(f"/v1/threads?limit={limit}", headers=users.alice.headers)

        assert response.status_code == 400
        assert "limit" in response.json()["message"]


async def test_list_with_foreign_or_unknown_cursor_is_empty(
    client: httpx.AsyncClient, users: Pair
) -> None:
    await create_thread(client, users.alice)
    bobs = await create_thread(client, users.bob)

    for after in (bobs, str(uuid.uuid4()), "not-an-id"):
        response = await client.get(f"/v1/threads?after={after}", headers=users.alice.headers)

        assert response.status_code == 200
        assert response.json() == {"threads": []}


async def test_update_applies_only_present_keys(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice, title="Old", metadata={"a": 1})
    headers = users.alice.headers

    response = await client.put(f"/v1/threads/{thread_id}", json={"title": "New"}, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    thread = (await client.get(f"/v1/threads/{thread_id}", headers=headers)).json()["thread"]
    assert (thread["title"], thread["metadata"]) == ("New", {"a": 1})

    await client.put(f"/v1/threads/{thread_id}", json={"metadata": None}, headers=headers)
    thread = (await client.get(f"/v1/threads/{thread_id}", headers=headers)).json()["thread"]
    assert (thread["title"], thread["metadata"]) == ("New", None)


async def test_update_archives_and_unarchives(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    headers = users.alice.headers

    await client.put(f"/v1/threads/{thread_id}", json={"is_archived": True}, headers=headers)
    archived = (await client.get(f"/v1/threads/{thread_id}", headers=headers)).json()["thread"]
    await client.put(f"/v1/threads/{thread_id}", json={"is_archived": False}, headers=headers)
    restored = (await client.get(f"/v1/threads/{thread_id}", headers=headers)).json()["thread"]

    assert archived["is_archived"] is True
    assert restored["is_archived"] is False


async def test_update_sets_last_message_at(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    headers = users.alice.headers

    await client.put(
        f"/v1/threads/{thread_id}",
        json={"last_message_at": "2026-12-24T18:30:00.123456+01:00"},
        headers=headers,
    )

    thread = (await client.get(f"/v1/threads/{thread_id}", headers=headers)).json()["thread"]
    assert thread["last_message_at"] == "2026-12-24T17:30:00.123Z"


async def test_update_with_null_archive_flag_is_400(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)

    response = await client.put(
        f"/v1/threads/{thread_id}", json={"is_archived": None}, headers=users.alice.headers
    )

    assert response.status_code == 400
    assert "is_archived" in response.json()["message"]


async def test_delete_removes_thread_and_messages(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    headers = users.alice.headers
    await client.post(
        f"/v1/threads/{thread_id}/messages",
        json={"parent_id": None, "format": "aui/v0", "content": {"role": "user"}},
        headers=headers,
    )

    response = await client.delete(f"/v1/threads/{thread_id}", headers=headers)

    assert response.status_code == 204
    assert (await client.get(f"/v1/threads/{thread_id}", headers=headers)).status_code == 404
    listed = await client.get(f"/v1/threads/{thread_id}/messages", headers=headers)
    assert listed.status_code == 404


async def test_another_users_thread_is_404_on_every_thread_route(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice, title="Mine")
    bob = users.bob.headers

    responses = [
        await client.get(f"/v1/threads/{thread_id}", headers=bob),
        await client.put(f"/v1/threads/{thread_id}", json={"title": "Yours"}, headers=bob),
        await client.delete(f"/v1/threads/{thread_id}", headers=bob),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert responses[0].json() == {"message": "Thread not found", "error": "not_found:thread"}
    assert (await client.get("/v1/threads", headers=bob)).json() == {"threads": []}
    mine = await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)
    assert mine.json()["thread"]["title"] == "Mine"


async def test_unknown_and_malformed_thread_ids_are_404(
    client: httpx.AsyncClient, users: Pair
) -> None:
    for thread_id in (str(uuid.uuid4()), "nope"):
        response = await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)

        assert response.status_code == 404
