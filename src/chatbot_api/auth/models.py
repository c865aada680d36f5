"""The ai-chatbot `"User"` table (shared with the Next.js app; never altered)."""

from __future__ import annotations

import uuid

from sqlalchemy import PrimaryKeyConstraint, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from chatbot_api.db.base import Base
from chatbot_api.db.types import gen_random_uuid


class User(Base):
    __tablename__ = "User"
    __table_args__ = (PrimaryKeyConstraint("id", name="User_pkey"),)

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    email: Mapped[str] = mapped_column(String(64))
    password: Mapped[str | None] = mapped_column(String(64), nullable=True)
