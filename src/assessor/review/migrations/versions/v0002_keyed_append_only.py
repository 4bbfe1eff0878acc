"""Keyed audit chain and append-only decisions.

* ``audit_log`` gains ``key_id``: entries are now sealed with an HMAC whose key lives outside the
  database; older entries (plain SHA-256, ``key_id`` NULL) stay as they are, first in the chain.
* Decisions on criteria and blocks become append-only history (primary key extended with
  ``audit_id``, the entry that recorded the row); the signature moves to its own append-only
  ``signatures`` table; a review's status is derived (signed: has a signature; superseded: a
  newer revision names it as parent), so ``reviews`` loses ``status`` and ``signed_*``.
* Triggers refuse UPDATE and DELETE on ``audit_log``, ``criterion_decisions``,
  ``block_decisions`` and ``signatures``, an INSERT that would overwrite a row (SQLite's INSERT
  OR REPLACE) or break the chain, and any change to a review but its version counter.

The rows carried over are recorded, with the state of the old chain, in one keyed audit entry
(``schema_migrated``) that they point at, so verification can explain them. The audit key
comes from the ``ReviewStore`` that runs the migration.

Revision ID: 0002_keyed_append_only
Revises: 0001_initial
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from assessor.review.migrations.versions import v0001_initial

revision: str = "0002_keyed_append_only"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "criterion_decisions", "block_decisions", "signatures")
MESSAGE = "enregistrement en ajout seul : modification et suppression interdites"
REVIEW_MESSAGE = "une revue ne se modifie pas (seul son compteur de version avance)"
CHAIN_MESSAGE = "journal d''audit : une entrée doit suivre la dernière, avec son empreinte et la clé"
REVIEW_FIXED = (
    "id",
    "revision",
    "parent_id",
    "candidate",
    "candidate_username",
    "referential_id",
    "referential_title",
    "blocks",
    "mode",
    "model",
    "created_by",
    "created_at",
    "assigned_jury",
    "report",
)
PRIMARY_KEYS = {
    "criterion_decisions": ("review_id", "criterion_id", "audit_id"),
    "block_decisions": ("review_id", "block", "audit_id"),
    "signatures": ("review_id",),
}

V1_SQLITE_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "reviews_report_immutable")


def _sqlite_triggers() -> list[str]:
    statements = []
    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    for table, key in PRIMARY_KEYS.items():
        same = " AND ".join(f"{column} = NEW.{column}" for column in key)
        statements.append(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {same}) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
    statements.append(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log WHEN "
        "NEW.key_id IS NULL "
        "OR NEW.id IS NOT (SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log) "
        "OR NEW.prev_hash IS NOT COALESCE((SELECT entry_hash FROM audit_log WHERE id = NEW.id - 1), '') "
        f"BEGIN SELECT RAISE(ABORT, '{CHAIN_MESSAGE}'); END"
    )
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in REVIEW_FIXED)
    statements += [
        f"CREATE TRIGGER reviews_fixed BEFORE UPDATE ON reviews WHEN {changed} OR NEW.version IS NOT OLD.version + 1 "
        f"BEGIN SELECT RAISE(ABORT, '{REVIEW_MESSAGE}'); END",
        f"CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews BEGIN SELECT RAISE(ABORT, '{REVIEW_MESSAGE}'); END",
        "CREATE TRIGGER reviews_no_replace BEFORE INSERT ON reviews "
        "WHEN EXISTS (SELECT 1 FROM reviews WHERE id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{REVIEW_MESSAGE}'); END",
    ]
    return statements


def _postgres_triggers() -> list[str]:
    # json has no equality operator in PostgreSQL: its columns are compared as text.
    cast = {"blocks": "::text", "assigned_jury": "::text"}
    changed = " OR ".join(
        f"NEW.{column}{cast.get(column, '')} IS DISTINCT FROM OLD.{column}{cast.get(column, '')}"
        for column in REVIEW_FIXED
    )
    statements = [
        f"""CREATE FUNCTION assessor_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
        END;
        $$""",
        f"""CREATE FUNCTION assessor_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.key_id IS NULL
               OR NEW.id IS DISTINCT FROM (SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log)
               OR NEW.prev_hash IS DISTINCT FROM COALESCE((SELECT entry_hash FROM audit_log WHERE id = NEW.id - 1), '')
            THEN
                RAISE EXCEPTION '{CHAIN_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$""",
        f"""CREATE FUNCTION assessor_review_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR {changed} OR NEW.version IS DISTINCT FROM OLD.version + 1 THEN
                RAISE EXCEPTION '{REVIEW_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$""",
        """CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION assessor_audit_chain()""",
        """CREATE TRIGGER reviews_fixed BEFORE UPDATE OR DELETE ON reviews
        FOR EACH ROW EXECUTE FUNCTION assessor_review_fixed()""",
        """CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews
        FOR EACH STATEMENT EXECUTE FUNCTION assessor_append_only()""",
    ]
    for table in APPEND_ONLY:
        statements += [
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION assessor_append_only()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION assessor_append_only()""",
        ]
    return statements


def _drop_v1_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for name in V1_SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reviews_report_immutable ON reviews")
        op.execute("DROP FUNCTION IF EXISTS reviews_report_immutable()")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _create_reviews(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey(f"{name}.id"), nullable=True),
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
        sa.Column("assigned_jury", sa.JSON, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.CheckConstraint("version >= 1 AND revision >= 1", name="ck_reviews_counters"),
    )


def _create_history() -> None:
    op.create_table(
        "criterion_decisions",
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("criterion_id", sa.String(300), primary_key=True),
        sa.Column("audit_id", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        _timestamp("decided_at", nullable=True),
        sa.CheckConstraint("action IS NULL OR action IN ('accepte', 'modifie')", name="ck_criterion_decisions_action"),
    )
    op.create_table(
        "block_decisions",
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("block", sa.String(64), primary_key=True),
        sa.Column("audit_id", sa.Integer, primary_key=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        _timestamp("decided_at"),
        sa.CheckConstraint("verdict IN ('valide', 'non_valide')", name="ck_block_decisions_verdict"),
    )
    op.create_table(
        "signatures",
        sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("audit_id", sa.Integer, nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=False),
        sa.Column("signed_by_name", sa.Text, nullable=False),
        _timestamp("signed_at"),
    )


def _utc(value: Any) -> datetime:
    """A timestamp as the v1 tables gave it back (SQLite: naive UTC, maybe as text)."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(value: Any) -> str | None:
    return None if value is None else _utc(value).isoformat()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _legacy_problems(entries: Sequence[Mapping[str, Any]]) -> list[int]:
    """Ids of the v1 entries whose SHA-256 link or content does not check out (recorded, not repaired)."""
    broken, prev_id, prev_hash = [], 0, ""
    for e in entries:
        fields = {k: e[k] for k in ("id", "actor", "action", "review_id", "criterion_id")}
        fields.update({k: _json(e[k]) for k in ("before", "after", "details")})
        fields["at"] = _utc(e["at"]).isoformat()
        expected = hashlib.sha256((prev_hash + _canonical(fields)).encode("utf-8")).hexdigest()
        if e["id"] != prev_id + 1 or e["prev_hash"] != prev_hash or e["entry_hash"] != expected:
            broken.append(e["id"])
        prev_id, prev_hash = e["id"], e["entry_hash"]
    return broken


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _seal(bind: sa.Connection, rows: dict[str, list[dict[str, Any]]], entries: Sequence[Mapping[str, Any]]) -> int:
    """Append the keyed entry that records what the migration carried over; its id."""
    key = context.config.attributes.get("audit_key")
    if key is None:
        raise RuntimeError(
            "this migration records the rows it carries over in the audit log and needs the audit key: "
            "run it through ReviewStore (assessor app, assessor review ...), which passes it"
        )
    last = entries[-1] if entries else None
    entry_id = (last["id"] if last else 0) + 1
    prev_hash = last["entry_hash"] if last else ""
    now = datetime.now(UTC)
    details = {
        "from": "0001_initial",
        "to": revision,
        "legacy_entries": len(entries),
        "legacy_head": prev_hash,
        "legacy_entries_not_verified": _legacy_problems(entries),
        "rows": rows,
    }
    details = json.loads(_canonical(details))
    fields = {
        "id": entry_id,
        "at": now.isoformat(),
        "actor": "system:migration",
        "action": "schema_migrated",
        "review_id": None,
        "criterion_id": None,
        "before": None,
        "after": None,
        "details": details,
        "key_id": key.key_id,
    }
    entry_hash = hmac.new(key.secret, (prev_hash + _canonical(fields)).encode("utf-8"), hashlib.sha256).hexdigest()
    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("details", sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("entry_hash", sa.String),
        sa.column("key_id", sa.String),
    )
    bind.execute(
        sa.insert(log).values(
            id=entry_id,
            at=now if bind.dialect.name != "sqlite" else now.replace(tzinfo=None),
            actor="system:migration",
            action="schema_migrated",
            details=details,
            prev_hash=prev_hash,
            entry_hash=entry_hash,
            key_id=key.key_id,
        )
    )
    return entry_id


DECISION_COLUMNS = ("review_id", "criterion_id", "action", "outcome", "reason", "comment", "decided_by")
BLOCK_COLUMNS = ("review_id", "block", "verdict", "justification", "decided_by")


def _carried(row: Mapping[str, Any], columns: Sequence[str], moment: str) -> dict[str, Any]:
    """A v1 row as the migration's entry records it: its columns, and its time in ISO form."""
    return {**{column: row[column] for column in columns}, moment: _iso(row[moment])}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _drop_v1_triggers(dialect)
    old_reviews = [dict(r) for r in bind.execute(sa.text("SELECT * FROM reviews")).mappings()]
    old_decisions = [dict(r) for r in bind.execute(sa.text("SELECT * FROM criterion_decisions")).mappings()]
    old_blocks = [dict(r) for r in bind.execute(sa.text("SELECT * FROM block_decisions")).mappings()]
    entries = [dict(r) for r in bind.execute(sa.text("SELECT * FROM audit_log ORDER BY id")).mappings()]

    op.add_column("audit_log", sa.Column("key_id", sa.String(32), nullable=True))
    op.drop_table("criterion_decisions")
    op.drop_table("block_decisions")
    _create_reviews("reviews_v2")
    columns = ", ".join(["version", "updated_at", *REVIEW_FIXED])
    op.execute(f"INSERT INTO reviews_v2 ({columns}) SELECT {columns} FROM reviews ORDER BY revision")
    for index in ("ix_reviews_updated_at", "ix_reviews_created_by", "ix_reviews_candidate_username"):
        op.drop_index(index, table_name="reviews")
    op.drop_table("reviews")
    op.rename_table("reviews_v2", "reviews")
    op.create_index("ix_reviews_updated_at", "reviews", ["updated_at"])
    op.create_index("ix_reviews_created_by", "reviews", ["created_by"])
    op.create_index("ix_reviews_candidate_username", "reviews", ["candidate_username"])
    op.create_index("ix_reviews_parent_id", "reviews", ["parent_id"])
    _create_history()

    decisions = [_carried(d, DECISION_COLUMNS, "decided_at") for d in old_decisions]
    blocks = [_carried(b, BLOCK_COLUMNS, "decided_at") for b in old_blocks]
    signed = [
        {**_carried(r, ("signed_by", "signed_by_name"), "signed_at"), "review_id": r["id"]}
        for r in old_reviews
        if r["signed_by"] and r["signed_at"] is not None
    ]
    if entries or decisions or blocks or signed:
        audit_id = _seal(
            bind, {"criterion_decisions": decisions, "block_decisions": blocks, "signatures": signed}, entries
        )
        _insert(bind, "criterion_decisions", decisions, audit_id, ("decided_at",))
        _insert(bind, "block_decisions", blocks, audit_id, ("decided_at",))
        _insert(bind, "signatures", signed, audit_id, ("signed_at",))
    for statement in {"sqlite": _sqlite_triggers(), "postgresql": _postgres_triggers()}.get(dialect, []):
        op.execute(statement)


def _insert(bind: sa.Connection, name: str, rows: list[dict[str, Any]], audit_id: int, times: tuple[str, ...]) -> None:
    if not rows:
        return
    sqlite = bind.dialect.name == "sqlite"
    table = sa.table(
        name,
        *(sa.column(c, sa.DateTime(timezone=True) if c in times else sa.String) for c in rows[0]),
        sa.column("audit_id", sa.Integer),
    )
    values = []
    for row in rows:
        value = {**row, "audit_id": audit_id}
        for column in times:
            if value[column] is not None:
                moment = datetime.fromisoformat(value[column])
                value[column] = moment.replace(tzinfo=None) if sqlite else moment
        values.append(value)
    bind.execute(sa.insert(table), values)


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("reviews", "audit_log"):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one():
            raise RuntimeError(
                "downgrading below 0002 is only possible on an empty review database: the keyed audit log "
                "and the decision history cannot be expressed in schema 0001"
            )
    if bind.dialect.name == "postgresql":
        for name in ("assessor_append_only", "assessor_audit_chain", "assessor_review_fixed"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
    else:
        names = [row[0] for row in bind.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))]
        for name in names:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in ("signatures", "block_decisions", "criterion_decisions"):
        op.drop_table(table)
    op.drop_column("audit_log", "key_id")
    for index in ("updated_at", "created_by", "candidate_username", "parent_id"):
        op.drop_index(f"ix_reviews_{index}", table_name="reviews")
    op.drop_table("reviews")
    v0001_initial.create_reviews_and_decisions()
