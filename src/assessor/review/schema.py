"""The review database's tables, as the code sees them (the migrations, frozen copies, create them).

Everything a person decides is appended, never rewritten: a decision on a criterion or a block
and a signature are rows that the database refuses to update or delete, each pointing at the
audit entry that recorded it (``audit_id``). The current decision is the newest row. A
review's own row is immutable but for its optimistic-locking counter (``version``) and
``updated_at``; its status is derived: signed when it has a signature, superseded when a newer
revision names it as parent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no timezone: store UTC, read back as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the review database only stores timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("parent_id", sa.String(32), sa.ForeignKey("reviews.id"), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("candidate", sa.Text, nullable=False),
    sa.Column("candidate_username", sa.String(64), nullable=True),
    sa.Column("referential_id", sa.String(200), nullable=False),
    sa.Column("referential_title", sa.Text, nullable=False),
    sa.Column("blocks", sa.JSON, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("assigned_jury", sa.JSON, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
)

criterion_decisions = sa.Table(
    "criterion_decisions",
    metadata,
    sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
    sa.Column("criterion_id", sa.String(300), primary_key=True),
    sa.Column("audit_id", sa.Integer, primary_key=True),
    sa.Column("action", sa.String(16), nullable=True),
    sa.Column("outcome", sa.String(64), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
)

block_decisions = sa.Table(
    "block_decisions",
    metadata,
    sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
    sa.Column("block", sa.String(64), primary_key=True),
    sa.Column("audit_id", sa.Integer, primary_key=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
)

signatures = sa.Table(
    "signatures",
    metadata,
    sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
    sa.Column("audit_id", sa.Integer, nullable=False),
    sa.Column("signed_by", sa.String(64), nullable=False),
    sa.Column("signed_by_name", sa.Text, nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("review_id", sa.String(32), nullable=True),
    sa.Column("criterion_id", sa.String(300), nullable=True),
    sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_id", sa.String(32), nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

APPEND_ONLY_TABLES = ("audit_log", "criterion_decisions", "block_decisions", "signatures")
"""Tables the database refuses to UPDATE or DELETE (and to overwrite with INSERT OR REPLACE)."""
