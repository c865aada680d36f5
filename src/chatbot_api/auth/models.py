"""The ai-chatbot `"User"` table (shared with the Next.js app; never altered) and our
`"RefreshToken"` table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from chatbot_api.db.base import Base
from chatbot_api.db.types import UTCDateTime, gen_random_uuid, utcnow


class User(Base):
    __tablename__ = "User"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="User_pkey"),
        # Ours (additive): case-insensitive e-mail lookups at login and registration.
        Index("User_email_lower_idx", func.lower(text("email"))),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=gen_random_uuid()
    )
    email: Mapped[str] = mapped_column(String(64))
    password: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshToken(Base):
    """A rotating refresh token (ours; stored as its SHA-256). Rotation marks `usedAt`;
    presenting a used token revokes its whole family."""

    __tablename__ = "RefreshToken"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="RefreshToken_id_pk"),
        Index("RefreshToken_familyId_idx", "familyId"),
        Index("RefreshToken_userId_idx", "userId"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        "userId", Uuid, ForeignKey("User.id", ondelete="CASCADE")
    )
    family_id: Mapped[uuid.UUID] = mapped_column("familyId", Uuid)
    token_hash: Mapped[str] = mapped_column("tokenHash", String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column("expiresAt", UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column("usedAt", UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column("revokedAt", UTCDateTime, nullable=True)
