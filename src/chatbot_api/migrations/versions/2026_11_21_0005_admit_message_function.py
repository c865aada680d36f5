"""Superseded (PostgreSQL only): the admission function of 0.1, now defined by 0008.

Kept as a step of the revision history, so that databases stamped at 0005 upgrade; it creates
nothing on a new database.

Revision ID: 0005_admit_message_function
Revises: 0004_user_email_lower_index
Create Date: 2026-11-21
"""

from collections.abc import Sequence

revision: str = "0005_admit_message_function"
down_revision: str | None = "0004_user_email_lower_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
