"""Who a caller is (AuthUser) and the e-mail rules that decide guest vs regular."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from chatbot_api.core.security import UserType

# zod v3 `email()` (contract §2.1); ASCII-only like the JavaScript regex without the `u` flag.
_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Z0-9_'+\-.]*[A-Z0-9_+-]@(?:[A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}",
    re.IGNORECASE | re.ASCII,
)
# The Next.js app's `guestRegex` (^guest-\d+$), applied to session e-mails.
_GUEST_EMAIL = re.compile(r"guest-[0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The signed-in caller; `expires_at` and `token_id` describe the credential used."""

    id: uuid.UUID
    email: str
    type: UserType
    expires_at: datetime | None = None
    token_id: str | None = None  # the bearer token's `jti` (None for Auth.js cookies)


def is_valid_email(email: str) -> bool:
    return _EMAIL.fullmatch(email) is not None


def is_guest_email(email: str) -> bool:
    return _GUEST_EMAIL.fullmatch(email) is not None


def user_type_for(email: str) -> UserType:
    return "guest" if is_guest_email(email) else "regular"
