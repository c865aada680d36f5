"""Superseded (PostgreSQL only): 0.1's two-statement admission, removed by 0008.

Kept as a step of the revision history, so that databases stamped at 0007 upgrade; it creates
nothing on a new database.

Revision ID: 0007_admit_message_async_commit
Revises: 0006_sent_message
Create Date: 2026-11-22
"""

from collections.abc import Sequence

revision: str = "0007_admit_message_async_commit"
down_revision: str | None = "0006_sent_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
