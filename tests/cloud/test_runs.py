"""`/v1/runs/stream` (the title run), `/v1/runs`, `/v1/events`, `/v1/scores` and feedback."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from chatbot_api.ai.demo_content import demo_title
from tests.cloud.conftest import Pair
from tests.cloud.test_messages import append
from tests.cloud.test_threads import create_thread

TITLE = "system/thread_title"


def title_body(thread_id: str, text: str = "Plan a weekend trip to Lisbon") -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "assistant_id": TITLE,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": text}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Sure!"},
                    {"type": "tool-call", "toolName": "search", "args": {}},
                ],
            },
        ],
    }


async def get_title(client: httpx.AsyncClient, headers: dict[str, str], thread_id: str) -> Any:
    response = await client.get(f"/v1/threads/{thread_id}", headers=headers)
    return response.json()["thread"]["title"]


async def test_title_run_streams_plain_text_and_saves_it(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)

    response = await client.post(
        "/v1/runs/stream", json=title_body(thread_id), headers=users.alice.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == demo_title("Plan a weekend trip to Lisbon")
    assert await get_title(client, users.alice.headers, thread_id) == response.text


async def test_title_run_accepts_string_content(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    body = {
        "thread_id": thread_id,
        "assistant_id": TITLE,
        "messages": [{"role": "user", "content": "Explain quantum entanglement simply"}],
    }

    response = await client.post("/v1/runs/stream", json=body, headers=users.alice.headers)

    assert response.text == demo_title("Explain quantum entanglement simply")


async def test_title_run_without_text_saves_a_default_title(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    body = {"thread_id": thread_id, "assistant_id": TITLE, "messages": []}

    response = await client.post("/v1/runs/stream", json=body, headers=users.alice.headers)

    assert response.text == "New Chat"
    assert await get_title(client, users.alice.headers, thread_id) == "New Chat"


async def test_title_run_is_saved_when_the_client_goes_away(
    client: httpx.AsyncClient, users: Pair, live_server: str
) -> None:
    thread_id = await create_thread(client, users.alice)

    async with (
        httpx.AsyncClient(base_url=live_server) as http,
        http.stream(
            "POST", "/v1/runs/stream", json=title_body(thread_id), headers=users.alice.headers
        ) as response,
    ):
        assert response.status_code == 200  # hang up without reading the body

    for _ in range(200):
        if await get_title(client, users.alice.headers, thread_id):
            break
        await asyncio.sleep(0.02)
    assert await get_title(client, users.alice.headers, thread_id) == demo_title(
        "Plan a weekend trip to Lisbon"
    )


async def test_title_run_with_unknown_assistant_is_400(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    body = {**title_body(thread_id), "assistant_id": "asst_123"}

    response = await client.post("/v1/runs/stream", json=body, headers=users.alice.headers)

    assert response.status_code == 400
    assert "assistant_id" in response.json()["message"]


async def test_title_run_on_another_users_thread_is_404_and_saves_nothing(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice, title="Mine")

    response = await client.post(
        "/v1/runs/stream", json=title_body(thread_id), headers=users.bob.headers
    )

    assert response.status_code == 404
    assert await get_title(client, users.alice.headers, thread_id) == "Mine"


async def test_run_report_is_stored_and_returns_run_id(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    report = {
        "thread_id": thread_id,
        "status": "completed",
        "input_tokens": 12,
        "output_tokens": 30,
        "model_id": "demo",
        "duration_ms": 812.5,
        "tool_calls": [{"tool_name": "search", "tool_call_id": "c1"}],
        "unknown_field": "ignored",
    }

    response = await client.post("/v1/runs", json=report, headers=users.alice.headers)

    assert response.status_code == 201
    uuid.UUID(response.json()["run_id"])


async def test_run_report_with_bad_status_names_the_field(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)

    response = await client.post(
        "/v1/runs", json={"thread_id": thread_id, "status": "done"}, headers=users.alice.headers
    )

    assert response.status_code == 400
    assert "status" in response.json()["message"]


async def test_events_are_accepted_and_counted(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    events = [
        {"kind": "message_sent", "thread_id": thread_id, "props": {"source": "composer"}},
        {"kind": "message_copied", "value": 3},
    ]

    response = await client.post("/v1/events", json={"events": events}, headers=users.alice.headers)

    assert response.status_code == 200
    assert response.json() == {"accepted": 2}


async def test_events_reject_bad_batches(client: httpx.AsyncClient, users: Pair) -> None:
    headers = users.alice.headers
    cases = [
        ({"events": [{"kind": "message_sent"}] * 51}, "events"),
        ({"events": [{"kind": "clicked"}]}, "kind"),
        ({"events": [{"kind": "message_sent", "value": -1}]}, "value"),
        ({"events": [{"kind": "message_sent", "props": {"x": "y" * 2000}}]}, "props"),
        ({"events": [{"kind": "message_sent", "props": {"nested": {"a": 1}}}]}, "props"),
    ]
    for body, field in cases:
        response = await client.post("/v1/events", json=body, headers=headers)

        assert response.status_code == 400, body
        assert field in response.json()["message"]


async def test_scores_round_trip_by_data_type(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    headers = users.alice.headers

    numeric = await client.post(
        "/v1/scores",
        json={"name": "quality", "data_type": "numeric", "value": 0.75, "thread_id": thread_id},
        headers=headers,
    )
    category = await client.post(
        "/v1/scores",
        json={"name": "topic", "data_type": "categorical", "string_value": "travel"},
        headers=headers,
    )

    assert numeric.status_code == 201
    body = numeric.json()
    uuid.UUID(body.pop("score_id"))
    assert body == {"name": "quality", "data_type": "numeric", "value": 0.75, "string_value": None}
    assert category.json()["value"] is None
    assert category.json()["string_value"] == "travel"


async def test_scores_reject_values_that_do_not_fit_the_type(
    client: httpx.AsyncClient, users: Pair
) -> None:
    cases = [
        {"name": "q", "data_type": "numeric"},
        {"name": "q", "data_type": "boolean", "value": 2},
        {"name": "q", "data_type": "categorical", "value": 1},
        {"name": "", "data_type": "numeric", "value": 1},
    ]
    for body in cases:
        response = await client.post("/v1/scores", json=body, headers=users.alice.headers)

        assert response.status_code == 400, body


async def test_feedback_is_recorded_on_a_message(client: httpx.AsyncClient, users: Pair) -> None:
    thread_id = await create_thread(client, users.alice)
    message_id = await append(client, users.alice, thread_id, None)

    response = await client.post(
        f"/v1/threads/{thread_id}/messages/{message_id}/feedback",
        json={"type": "negative", "comment": "Wrong city"},
        headers=users.alice.headers,
    )
    plain = await client.post(
        f"/v1/threads/{thread_id}/messages/{message_id}/feedback",
        json={"type": "positive"},
        headers=users.alice.headers,
    )

    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body.pop("feedback_id"))
    assert body == {"type": "negative", "comment": "Wrong city"}
    assert plain.json()["comment"] is None


async def test_feedback_on_unknown_message_or_bad_type_fails(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    message_id = await append(client, users.alice, thread_id, None)
    base = f"/v1/threads/{thread_id}/messages"

    missing = await client.post(
        f"{base}/{uuid.uuid4()}/feedback", json={"type": "positive"}, headers=users.alice.headers
    )
    bad = await client.post(
        f"{base}/{message_id}/feedback", json={"type": "meh"}, headers=users.alice.headers
    )

    assert missing.status_code == 404
    assert (bad.status_code, "type" in bad.json()["message"]) == (400, True)


async def test_another_users_thread_is_404_on_every_telemetry_route(
    client: httpx.AsyncClient, users: Pair
) -> None:
    thread_id = await create_thread(client, users.alice)
    message_id = await append(client, users.alice, thread_id, None)
    bob = users.bob.headers

    responses = [
        await client.post(
            "/v1/runs", json={"thread_id": thread_id, "status": "completed"}, headers=bob
        ),
        await client.post(
            "/v1/events",
            json={"events": [{"kind": "thread_switched", "thread_id": thread_id}]},
            headers=bob,
        ),
        await client.post(
            "/v1/scores",
            json={"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread_id},
            headers=bob,
        ),
        await client.post(
            f"/v1/threads/{thread_id}/messages/{message_id}/feedback",
            json={"type": "positive"},
            headers=bob,
        ),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.json()["error"] == "not_found:thread" for r in responses)
