"""Imports every model so `Base.metadata` is complete (Alembic, tests)."""

from chatbot_api.auth.models import RefreshToken, User
from chatbot_api.chats.models import (
    Chat,
    LegacyMessage,
    LegacyVote,
    Message,
    MessageUsage,
    SentMessage,
    Stream,
    StreamReply,
    Vote,
)
from chatbot_api.cloud.models import (
    CloudAttachment,
    CloudEvent,
    CloudFeedback,
    CloudIdentity,
    CloudMessage,
    CloudRun,
    CloudScore,
    CloudThread,
)
from chatbot_api.db.base import Base
from chatbot_api.documents.models import Document, Suggestion

__all__ = [
    "Base",
    "Chat",
    "CloudAttachment",
    "CloudEvent",
    "CloudFeedback",
    "CloudIdentity",
    "CloudMessage",
    "CloudRun",
    "CloudScore",
    "CloudThread",
    "Document",
    "LegacyMessage",
    "LegacyVote",
    "Message",
    "MessageUsage",
    "RefreshToken",
    "SentMessage",
    "Stream",
    "StreamReply",
    "Suggestion",
    "User",
    "Vote",
]
