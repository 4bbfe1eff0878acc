"""Login sessions in the review database, so that every replica of the app knows them.

A session is a browser's login: the app sets a random token in a cookie, and keeps here only its
SHA-256 (a copy of the database gives no live session), the username, and when it was opened and
last seen. Several app processes behind a reverse proxy, or one restarted, read the same table:
a jury member logged in on one replica stays logged in on the others and across a restart.

Revision ID: 0003_sessions
Revises: 0002_keyed_append_only
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_sessions"
down_revision: str | Sequence[str] | None = "0002_keyed_append_only"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sessions_username", "sessions", ["username"])


def downgrade() -> None:
    op.drop_index("sessions_username", "sessions")
    op.drop_table("sessions")
