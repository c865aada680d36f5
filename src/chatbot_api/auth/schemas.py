"""Wire models of /api/auth: credentials in, token pairs and sessions out."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chatbot_api.auth.identity import is_valid_email
from chatbot_api.core.security import UserType

EMAIL_MAX_LENGTH = 64  # "User".email is varchar(64)
PASSWORD_MIN_LENGTH = 6
PASSWORD_MAX_LENGTH = 128


def _check_email(value: str) -> str:
    if not is_valid_email(value):
        raise ValueError("Invalid email")
    return value


NewEmail = Annotated[
    str,
    Field(max_length=EMAIL_MAX_LENGTH, examples=["ada@example.com"]),
    AfterValidator(_check_email),
]
Password = Annotated[str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegisterRequest(_Request):
    email: NewEmail
    password: Password


class LoginRequest(_Request):
    # Not format-checked: any e-mail that is not a regular account simply fails to sign in.
    email: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH, examples=["ada@example.com"])
    password: Password


class RefreshRequest(_Request):
    refresh_token: str = Field(min_length=1, max_length=256)


class LogoutRequest(_Request):
    refresh_token: str | None = Field(default=None, min_length=1, max_length=256)


class SessionUser(BaseModel):
    id: uuid.UUID
    email: str
    type: UserType


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    refresh_token: str
    expires_in: int = Field(description="Lifetime of the access token, in seconds")
    user: SessionUser


class SessionResponse(BaseModel):
    user: SessionUser
    expires: str = Field(description="Expiry of the credential, `YYYY-MM-DDTHH:MM:SS.sssZ`")
