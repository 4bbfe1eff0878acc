"""Initial schema: reviews, people's decisions, and the append-only audit log.

The machine's report is stored whole in ``reviews.report`` and a trigger refuses to change
it; ``audit_log`` refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) in the database
itself, so even a mistaken script or a hand-typed SQL statement cannot rewrite history.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_MESSAGE = "journal d''audit en ajout seul : modification et suppression interdites"
REPORT_MESSAGE = "le rapport de la machine ne se modifie jamais"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END""",
    f"""CREATE TRIGGER reviews_report_immutable BEFORE UPDATE OF report ON reviews
    WHEN NEW.report IS NOT OLD.report
    BEGIN SELECT RAISE(ABORT, '{REPORT_MESSAGE}'); END""",
]

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{AUDIT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END;
    $$""",
    """CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
    f"""CREATE FUNCTION reviews_report_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REPORT_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END;
    $$""",
    """CREATE TRIGGER reviews_report_immutable BEFORE UPDATE OF report ON reviews
    FOR EACH ROW WHEN (NEW.report IS DISTINCT FROM OLD.report)
    EXECUTE FUNCTION reviews_report_immutable()""",
]


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _create_reviews() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("reviews.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("candidate", sa.Text, nullable=False),
        sa.Column("candidate_username", sa.String(64), nullable=True),
        sa.Column("referential_id", sa.String(200), nullable=False),
        sa.Column("referential_title", sa.Text, nullable=False),
        sa.Column("blocks", sa.JSON, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("signed_by", sa.String(64), nullable=True),
        sa.Column("signed_by_name", sa.Text, nullable=True),
        _timestamp("signed_at", nullable=True),
        sa.Column("assigned_jury", sa.JSON, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.CheckConstraint("status IN ('en_cours', 'signee', 'remplacee')", name="ck_reviews_status"),
        sa.CheckConstraint("version >= 1 AND revision >= 1", name="ck_reviews_counters"),
    )
    op.create_index("ix_reviews_updated_at", "reviews", ["updated_at"])
    op.create_index("ix_reviews_created_by", "reviews", ["created_by"])
    op.create_index("ix_reviews_candidate_username", "reviews", ["candidate_username"])


def _create_decisions() -> None:
    op.create_table(
        "criterion_decisions",
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("criterion_id", sa.String(300), primary_key=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        _timestamp("decided_at", nullable=True),
    )
    op.create_table(
        "block_decisions",
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("block", sa.String(64), primary_key=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        _timestamp("decided_at"),
        sa.CheckConstraint("verdict IN ('valide', 'non_valide')", name="ck_block_decisions_verdict"),
    )


def _create_audit_log() -> None:
    # No foreign key to reviews: the log must outlive anything it describes.
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        _timestamp("at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("review_id", sa.String(32), nullable=True),
        sa.Column("criterion_id", sa.String(300), nullable=True),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_log_review_id", "audit_log", ["review_id"])


def upgrade() -> None:
    _create_reviews()
    _create_decisions()
    _create_audit_log()
    _create_triggers()


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def create_reviews_and_decisions() -> None:
    """This schema's reviews and decision tables, and its triggers, beside an existing audit log
    (for the downgrade of 0002, which keeps the log)."""
    _create_reviews()
    _create_decisions()
    _create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reviews_report_immutable ON reviews")
        op.execute("DROP FUNCTION IF EXISTS reviews_report_immutable()")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")
    op.drop_table("audit_log")
    op.drop_table("block_decisions")
    op.drop_table("criterion_decisions")
    op.drop_table("reviews")
