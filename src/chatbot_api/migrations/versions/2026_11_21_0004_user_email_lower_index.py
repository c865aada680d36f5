"""Ours, additive: an index on lower("User".email) for case-insensitive login lookups.

Revision ID: 0004_user_email_lower_index
Revises: 0003_cloud
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_user_email_lower_index"
down_revision: str | None = "0003_cloud"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("User_email_lower_idx", "User", [sa.func.lower(sa.text("email"))])


def downgrade() -> None:
    op.drop_index("User_email_lower_idx", table_name="User")
