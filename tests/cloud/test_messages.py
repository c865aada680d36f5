"""`/v1/threads/{id}/messages`: append (chains, heights), list (newest first, format, pages),
update, size limits, ownership."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests import factories
from tests.cloud.conftest import ISO_MS, Pair
from tests.cloud.test_threads import create_thread


async def append(
    client: httpx.AsyncClient,
    user: factories.TestUser,
    thread_id: str,
    parent_id: str | None,
    text: str = "hi",
    format: str = "ai-sdk/v6",
) -> str:
    body = {
        "parent_id": parent_id,
        "format": format,
        "content": {"role": "user", "parts": [{"type": "text", "text": text}]},
    }
    response = await client.post(
        f"/v1/threads/{thread_id}/messages", json=body, headers=user.headers
    )
    assert response.status_code == 201, response.text
    message_id: str = response.json()["message_id"]
    return message_id


async def listed(
    client: httpx.AsyncClient, user: factories.TestUser, thread_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/threads/{thread_id}/messages", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def test_append_chain_sets_heights_and_lists_newest_first(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    m1 = await append(client, users.alice, thread_id, None, "one")
    m2 = await append(client, users.alice, thread_id, m1, "two")
    m3 = await append(client, users.alice, thread_id, m2, "three")

    messages = await listed(client, users.alice, thread_id)

    assert [m["id"] for m in messages] == [m3, m2, m1]
    assert [m["parent_id"] for m in messages] == [m2, m1, None]
    assert [m["height"] for m in messages] == [2, 1, 0]
    assert messages[0]["content"]["parts"][0]["text"] == "three"
    assert messages[0]["format"] == "ai-sdk/v6"
    for message in messages:
        assert set(message) == {
            "id",
            "parent_id",
            "height",
            "created_at",
            "updated_at",
            "format",
            "content",
        }
        assert ISO_MS.fullmatch(message["created_at"])
        assert ISO_MS.fullmatch(message["updated_at"])


async def test_append_keeps_branches(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    root = await append(client, users.alice, thread_id, None)
    first = await append(client, users.alice, thread_id, root, "a")
    second = await append(client, users.alice, thread_id, root, "b")

    messages = await listed(client, users.alice, thread_id)

    assert [(m["id"], m["parent_id"], m["height"]) for m in messages] == [
        (second, root, 1),
        (first, root, 1),
        (root, None, 0),
    ]


async def test_append_with_unknown_parent_keeps_it_at_height_zero(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)

    await append(client, users.alice, thread_id, "__LOCALID_abc")
    await append(client, users.alice, thread_id, str(uuid.uuid4()))

    messages = await listed(client, users.alice, thread_id)
    assert [m["height"] for m in messages] == [0, 0]
    assert messages[1]["parent_id"] == "__LOCALID_abc"


async def test_append_bumps_thread_last_message_at(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice, last_message_at="2020-01-01T00:00:00.000Z")
    older = await create_thread(client, users.alice, last_message_at="2025-01-01T00:00:00.000Z")

    await append(client, users.alice, thread_id, None)

    thread = (await client.get(f"/v1/threads/{thread_id}", headers=users.alice.headers)).json()
    message = (await listed(client, users.alice, thread_id))[0]
    assert thread["thread"]["last_message_at"] == message["created_at"]
    assert thread["thread"]["updated_at"] == message["created_at"]
    threads = (await client.get("/v1/threads", headers=users.alice.headers)).json()["threads"]
    assert [t["id"] for t in threads] == [thread_id, older]


async def test_list_filters_by_format(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    v6 = await append(client, users.alice, thread_id, None, format="ai-sdk/v6")
    await append(client, users.alice, thread_id, None, format="aui/v0")

    messages = await listed(client, users.alice, thread_id, format="ai-sdk/v6")

    assert [m["id"] for m in messages] == [v6]


async def test_list_pages_with_limit_and_after(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    ids: list[str] = []
    for index in range(5):
        ids.append(
            await append(client, users.alice, thread_id, ids[-1] if ids else None, str(index))
        )
    newest_first = list(reversed(ids))

    first = await listed(client, users.alice, thread_id, limit=2)
    second = await listed(client, users.alice, thread_id, limit=2, after=first[-1]["id"])
    last = await listed(client, users.alice, thread_id, limit=2, after=second[-1]["id"])

    assert [m["id"] for m in first + second + last] == newest_first
    assert len(last) == 1


async def test_list_without_limit_returns_every_row_and_allows_pages_of_1000(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    for _ in range(3):
        await append(client, users.alice, thread_id, None)

    assert len(await listed(client, users.alice, thread_id)) == 3
    assert len(await listed(client, users.alice, thread_id, limit=1000)) == 3
    response = await client.get(
        f"/v1/threads/{thread_id}/messages?limit=1001", headers=users.alice.headers
    )
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


async def test_list_with_unknown_cursor_is_empty(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    await append(client, users.alice, thread_id, None)

    assert await listed(client, users.alice, thread_id, after=str(uuid.uuid4())) == []
    assert await listed(client, users.alice, thread_id, after="local-id") == []


async def test_update_replaces_content_and_bumps_updated_at(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    message_id = await append(client, users.alice, thread_id, None)
    new_content = {"role": "assistant", "parts": [{"type": "text", "text": "edited"}]}

    response = await client.put(
        f"/v1/threads/{thread_id}/messages/{message_id}",
        json={"content": new_content},
        headers=users.alice.headers,
    )

    assert response.status_code == 204
    message = (await listed(client, users.alice, thread_id))[0]
    assert message["content"] == new_content
    assert message["format"] == "ai-sdk/v6"
    assert message["updated_at"] >= message["created_at"]


async def test_update_of_unknown_message_is_404(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    other_thread = await create_thread(client, users.alice)
    elsewhere = await append(client, users.alice, other_thread, None)

    for message_id in (str(uuid.uuid4()), "nope", elsewhere):
        response = await client.put(
            f"/v1/threads/{thread_id}/messages/{message_id}",
            json={"content": {}},
            headers=users.alice.headers,
        )

        assert response.status_code == 404
        assert response.json()["error"] == "not_found:message"


async def test_append_with_bad_body_names_the_field(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)

    cases = [
        ({"parent_id": None, "content": {}}, "format"),
        ({"parent_id": None, "format": "aui/v0", "content": "text"}, "content"),
        ({"parent_id": None, "format": "", "content": {}}, "format"),
        ({"parent_id": 5, "format": "aui/v0", "content": {}}, "parent_id"),
    ]
    for body, field in cases:
        response = await client.post(
            f"/v1/threads/{thread_id}/messages", json=body, headers=users.alice.headers
        )

        assert response.status_code == 400, body
        assert field in response.json()["message"]


async def test_append_over_the_content_limit_is_413(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    big = {"parent_id": None, "format": "aui/v0", "content": {"text": "x" * (1024 * 1024)}}

    response = await client.post(
        f"/v1/threads/{thread_id}/messages", json=big, headers=users.alice.headers
    )
    update = await client.put(
        f"/v1/threads/{thread_id}/messages/{uuid.uuid4()}",
        json={"content": big["content"]},
        headers=users.alice.headers,
    )
    huge = await client.post(
        f"/v1/threads/{thread_id}/messages",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**users.alice.headers, "Content-Type": "application/json"},
    )

    assert (response.status_code, update.status_code, huge.status_code) == (413, 413, 413)
    assert "content" in response.json()["message"]
    assert await listed(client, users.alice, thread_id) == []


async def test_another_users_thread_is_404_on_every_message_route(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    message_id = await append(client, users.alice, thread_id, None)
    bob = users.bob.headers
    base = f"/v1/threads/{thread_id}/messages"

    responses = [
        await client.get(base, headers=bob),
        await client.post(
            base, json={"parent_id": None, "format": "x", "content": {}}, headers=bob
        ),
        await client.put(f"{base}/{message_id}", json={"content": {}}, headers=bob),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert all(r.json()["error"] == "not_found:thread" for r in responses)
    assert len(await listed(client, users.alice, thread_id)) == 1
