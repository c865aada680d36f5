"""Test data factories: users with tokens, chats, messages, documents — written straight to the
database so each domain's tests do not depend on other domains' routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from chatbot_api.auth.models import User
from chatbot_api.chats.models import Chat, Message
from chatbot_api.core.security import UserType, create_access_token, hash_password
from chatbot_api.db.types import utcnow
from chatbot_api.documents.models import Document


@dataclass
class TestUser:
    __test__ = False  # a helper, not a test class
    id: uuid.UUID
    email: str
    type: UserType
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(
    app: FastAPI,
    *,
    email: str | None = None,
    user_type: UserType = "regular",
    password: str = "password123",
) -> TestUser:
    settings = app.state.settings
    user = User(
        id=uuid.uuid4(),
        email=email or f"user-{uuid.uuid4().hex[:8]}@example.com",
        password=hash_password(password),
    )
    async with app.state.session_factory() as session:
        session.add(user)
        await session.commit()
    token, _ = create_access_token(
        user_id=user.id,
        email=user.email,
        user_type=user_type,
        secret=settings.jwt_secret,
        algorithm=settings.jwt_algorithm,
        expires_in=timedelta(minutes=30),
    )
    return TestUser(id=user.id, email=user.email, type=user_type, token=token, password=password)


async def make_chat(
    app: FastAPI,
    user: TestUser,
    *,
    title: str = "A chat",
    visibility: str = "private",
    created_at: datetime | None = None,
    chat_id: uuid.UUID | None = None,
) -> Chat:
    chat = Chat(
        id=chat_id or uuid.uuid4(),
        user_id=user.id,
        title=title,
        visibility=visibility,
        created_at=created_at or utcnow(),
    )
    async with app.state.session_factory() as session:
        session.add(chat)
        await session.commit()
    return chat


async def make_message(
    app: FastAPI,
    chat: Chat,
    *,
    role: str = "user",
    text: str = "Hello",
    parts: list[dict[str, Any]] | None = None,
    created_at: datetime | None = None,
) -> Message:
    message = Message(
        id=uuid.uuid4(),
        chat_id=chat.id,
        role=role,
        parts=parts if parts is not None else [{"type": "text", "text": text}],
        attachments=[],
        created_at=created_at or utcnow(),
    )
    async with app.state.session_factory() as session:
        session.add(message)
        await session.commit()
    return message


async def make_document(
    app: FastAPI,
    user: TestUser,
    *,
    doc_id: uuid.UUID | None = None,
    title: str = "A document",
    content: str | None = "Some content.",
    kind: str = "text",
    created_at: datetime | None = None,
) -> Document:
    document = Document(
        id=doc_id or uuid.uuid4(),
        title=title,
        content=content,
        kind=kind,
        user_id=user.id,
        created_at=created_at or utcnow(),
    )
    async with app.state.session_factory() as session:
        session.add(document)
        await session.commit()
    return document
