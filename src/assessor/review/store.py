"""The review database: reviews, people's decisions, and a tamper-evident audit log.

One ``ReviewStore`` per process, shared by threads. The machine's ``Report`` is stored whole
and never modified; decisions live in their own tables. Every change:

* checks who may make it (``can_see`` and the role's capabilities) and that the review is open;
* increments the review's ``version`` with a conditional UPDATE (``WHERE version = expected``),
  so a change made against a stale screen is refused with ``ConflictError`` and nothing is written;
* appends to ``audit_log`` in the same transaction, each entry chained to the previous one by
  sha256, with appends serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE``) so the
  chain never forks.

SQLite (the default, one file in the data folder) and PostgreSQL are supported.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from sqlalchemy.pool import StaticPool

from assessor.redaction import redact_json
from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Mode, Report
from assessor.review.domain import (
    ROLE_LABELS,
    AuditEntry,
    BlockDecision,
    BlockVerdict,
    ConflictError,
    CriterionAction,
    CriterionDecision,
    InvalidDecision,
    NotFound,
    PermissionDenied,
    ReadOnlyReview,
    ReviewError,
    ReviewState,
    ReviewStatus,
    ReviewSummary,
    Role,
    User,
)
from assessor.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_KEY = 0x61737365  # PostgreSQL advisory lock held while migrating ("asse")
GENESIS_HASH = ""  # what the first audit entry is chained to


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


# The tables as the code sees them; the migrations (frozen copies) create them.
metadata = sa.MetaData()

reviews = sa.Table(
    "reviews",
    metadata,
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
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("signed_by", sa.String(64), nullable=True),
    sa.Column("signed_by_name", sa.Text, nullable=True),
    sa.Column("signed_at", UTCDateTime, nullable=True),
    sa.Column("assigned_jury", sa.JSON, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
)

criterion_decisions = sa.Table(
    "criterion_decisions",
    metadata,
    sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("criterion_id", sa.String(300), primary_key=True),
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
    sa.Column("review_id", sa.String(32), sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("block", sa.String(64), primary_key=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
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
)

_SUMMARY_COLUMNS = [column for column in reviews.c if column.name not in {"report", "version"}]

# -- permissions -----------------------------------------------------------------------------


class Capability(StrEnum):
    """What a change needs, beyond seeing the review."""

    DECIDE = "decide"  # accept or override a criterion's proposal
    COMMENT = "comment"
    BLOCK = "block"
    SIGN = "sign"
    REVISE = "revise"


CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.JURY: frozenset(Capability),
    Role.TRAINER: frozenset({Capability.DECIDE, Capability.COMMENT}),
    Role.CANDIDATE: frozenset({Capability.COMMENT}),
    Role.ADMIN: frozenset(),
}

CREATABLE_MODE: dict[Role, Mode] = {Role.JURY: Mode.JURY, Role.TRAINER: Mode.TRAINER, Role.CANDIDATE: Mode.CANDIDATE}

MODE_LABELS: dict[str, str] = {
    Mode.JURY: "jury",
    Mode.TRAINER: "formateur (formatif)",
    Mode.CANDIDATE: "autoévaluation du candidat",
}

_REFUSALS: dict[Capability, str] = {
    Capability.DECIDE: "Seuls le jury et le formateur peuvent décider d'un critère.",
    Capability.COMMENT: "Vous ne pouvez pas commenter cette revue.",
    Capability.BLOCK: "Seul un membre du jury peut statuer sur un bloc.",
    Capability.SIGN: "Seul un membre du jury peut signer une revue.",
    Capability.REVISE: "Seul un membre du jury peut créer une nouvelle révision.",
}

NO_ACCESS = "Vous n'avez pas accès à cette revue."
ADMIN_READ_ONLY = "Un administrateur consulte les revues mais ne les crée ni ne les modifie."
CANDIDATE_NOTES_ONLY = "Un candidat peut seulement ajouter ses notes aux critères."
SIGNED_READ_ONLY = "Cette revue est signée : créez une nouvelle révision pour la modifier."
SUPERSEDED_READ_ONLY = "Cette revue a été remplacée par une révision plus récente : modifiez cette dernière."


def can_see(user: User, summary: ReviewSummary) -> bool:
    """Who sees a review: the one rule behind ``get``, ``list_reviews`` and every change."""
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.JURY:
        return summary.created_by == user.username or user.username in summary.assigned_jury
    if user.role is Role.TRAINER:
        return summary.mode == Mode.TRAINER and (
            summary.created_by == user.username or summary.candidate_username in user.candidates
        )
    return summary.mode == Mode.CANDIDATE and summary.candidate_username == user.username


def can(user: User, summary: ReviewSummary, capability: Capability) -> bool:
    """Whether the user may make this kind of change (the review's status aside)."""
    return can_see(user, summary) and capability in CAPABILITIES[user.role]


def _require(user: User, summary: ReviewSummary, capability: Capability | None) -> None:
    if not can_see(user, summary):
        raise PermissionDenied(NO_ACCESS)
    if capability is None or capability in CAPABILITIES[user.role]:
        return
    if user.role is Role.ADMIN:
        raise PermissionDenied(ADMIN_READ_ONLY)
    if user.role is Role.CANDIDATE:
        raise PermissionDenied(CANDIDATE_NOTES_ONLY)
    raise PermissionDenied(_REFUSALS[capability])


def _require_open(summary: ReviewSummary) -> None:
    if summary.status is ReviewStatus.SIGNED:
        raise ReadOnlyReview(SIGNED_READ_ONLY)
    if summary.status is ReviewStatus.SUPERSEDED:
        raise ReadOnlyReview(SUPERSEDED_READ_ONLY)


# -- helpers ---------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_review_id() -> str:
    """12 random URL-safe characters: unguessable, never derived from what a user typed."""
    return secrets.token_urlsafe(9)


def canonical_json(value: Any) -> str:
    """The one serialisation the audit hashes are computed over (stable across backends)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def report_sha256(report_json: str) -> str:
    return hashlib.sha256(report_json.encode("utf-8")).hexdigest()


def _dump(model: BaseModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json")


def _required_text(value: str, message: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidDecision(message)
    return text


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the migrations folder inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this code expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its initial revision
        raise RuntimeError("no migration found in the package")
    return head


def _hidden(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _parse_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        # The message would echo the URL, password included: say only what to fix.
        raise ReviewError(
            "Adresse de la base de revue invalide (réglage ASSESSOR_DATABASE_URL) : attendu par exemple "
            "sqlite:///chemin/assessor.db ou postgresql+psycopg://utilisateur@hôte/base."
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ReviewError(
            f"Base de revue non prise en charge ({parsed.get_backend_name()}) : utilisez SQLite ou PostgreSQL."
        )
    return parsed


def _is_memory(url: sa.URL) -> bool:
    return url.database in {None, "", ":memory:"} or "mode=memory" in str(url.query)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    """SQLite tuned for a small multi-user app: WAL, foreign keys, busy wait, explicit BEGIN."""
    if _is_memory(url):
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if url.database and not url.database.startswith("file:"):
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ReviewError(
                    f"Impossible de créer le dossier de la base de revue {folder} : {exc.strerror}"
                ) from exc
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would begin too late for a serialised audit chain.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A writer takes the write lock at BEGIN, so what it reads is what it updates.
        immediate = connection.get_execution_options().get("assessor_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _create_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ImportError:
        raise ReviewError("Le pilote PostgreSQL n'est pas installé : pip install 'assessor[postgres]'.") from None


# -- rows to domain objects ------------------------------------------------------------------


def _summary(row: sa.Row[Any]) -> ReviewSummary:
    return ReviewSummary(
        id=row.id,
        candidate=row.candidate,
        candidate_username=row.candidate_username,
        referential_id=row.referential_id,
        referential_title=row.referential_title,
        blocks=list(row.blocks),
        mode=row.mode,
        model=row.model,
        status=ReviewStatus(row.status),
        revision=row.revision,
        parent_id=row.parent_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        signed_by=row.signed_by,
        signed_by_name=row.signed_by_name,
        signed_at=row.signed_at,
        assigned_jury=list(row.assigned_jury),
    )


def _decision(row: sa.Row[Any]) -> CriterionDecision:
    return CriterionDecision(
        criterion_id=row.criterion_id,
        action=CriterionAction(row.action) if row.action else None,
        outcome=row.outcome,
        reason=row.reason,
        comment=row.comment,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def _block_decision(row: sa.Row[Any]) -> BlockDecision:
    return BlockDecision(
        block=row.block,
        verdict=BlockVerdict(row.verdict),
        justification=row.justification,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def _entry_fields(row: sa.Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """What an entry's hash covers: everything but the hashes themselves."""
    values = row._mapping if isinstance(row, sa.Row) else row
    return {
        "id": values["id"],
        "at": values["at"].astimezone(UTC).isoformat(),
        "actor": values["actor"],
        "action": values["action"],
        "review_id": values["review_id"],
        "criterion_id": values["criterion_id"],
        "before": values["before"],
        "after": values["after"],
        "details": values["details"],
    }


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        review_id=row.review_id,
        criterion_id=row.criterion_id,
        before=row.before,
        after=row.after,
        details=row.details,
        entry_hash=row.entry_hash,
    )


def proposal_details(result: CriterionResult) -> dict[str, Any]:
    """Everything needed to explain later what the machine proposed and how: the audit's core."""
    return {
        "model": result.model,
        "prompt_version": result.prompt_version,
        "block": result.block,
        "evidence_ids": result.evidence_ids,
        "outcome": result.outcome,
        "status": result.status.value,
        "flags": [flag.value for flag in result.flags],
        "confidence": result.confidence,
        "rationale": result.rationale,
        "missing": result.missing,
        "citations": [citation.model_dump(mode="json") for citation in result.citations],
        "attempts": [attempt.model_dump(mode="json") for attempt in result.attempt_log],
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_eur": result.cost_eur,
        "cached": result.cached,
    }


class _AuditWriter:
    """Appends chained entries inside one write transaction (which already holds the append lock)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        last = connection.execute(
            sa.select(audit_log.c.id, audit_log.c.entry_hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        self._last_id: int = 0 if last is None else last.id
        self._last_hash: str = GENESIS_HASH if last is None else last.entry_hash

    def append(
        self,
        actor: str,
        action: str,
        *,
        at: datetime,
        review_id: str | None = None,
        criterion_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        values: dict[str, Any] = {
            "id": self._last_id + 1,
            "at": at,
            "actor": actor,
            "action": action,
            "review_id": review_id,
            "criterion_id": criterion_id,
            # Secrets masked before hashing (a model's raw output may repeat an API key): the chain
            # covers exactly what is stored.
            **redact_json({"before": before, "after": after, "details": details or {}}),
        }
        # Hash what the database will give back: JSON values as JSON would read them.
        values.update({key: json.loads(canonical_json(values[key])) for key in ("before", "after", "details")})
        entry_hash = chain_hash(self._last_hash, _entry_fields(values))
        self._connection.execute(
            sa.insert(audit_log).values(**values, prev_hash=self._last_hash, entry_hash=entry_hash)
        )
        self._last_id, self._last_hash = values["id"], entry_hash
        return AuditEntry(**values, entry_hash=entry_hash)


# -- the store -------------------------------------------------------------------------------


class ReviewStore:
    """Reviews and their audit trail in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        parsed = _parse_url(url)
        self._postgres = parsed.get_backend_name() == "postgresql"
        self._engine = _create_engine(parsed)
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            self._engine.dispose()
            raise ReviewError(f"Impossible d'ouvrir la base de revue {_hidden(parsed)} : {exc.orig}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewStore:
        return cls(settings.resolved_database_url)

    def dispose(self) -> None:
        self._engine.dispose()

    # -- transactions ------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to head, serialised so two processes starting together cannot both migrate."""
        with self._engine.connect() as connection:
            connection.execution_options(assessor_write=True)
            with connection.begin():
                if self._postgres:
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                command.upgrade(alembic_config(connection), "head")

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """One consistent snapshot for a review and its decisions."""
        with self._engine.connect() as connection:
            if self._postgres:
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction holding the audit append lock from its first statement."""
        with self._engine.connect() as connection:
            connection.execution_options(assessor_write=True)
            with connection.begin():
                if self._postgres:
                    connection.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
                yield connection

    # -- reading -----------------------------------------------------------------------------

    def _load(self, connection: sa.Connection, review_id: str) -> ReviewState:
        row = connection.execute(sa.select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise NotFound(f"Aucune revue « {review_id[:40]} ».")
        decisions = connection.execute(
            sa.select(criterion_decisions).where(criterion_decisions.c.review_id == review_id)
        ).all()
        blocks = connection.execute(sa.select(block_decisions).where(block_decisions.c.review_id == review_id)).all()
        return ReviewState(
            summary=_summary(row),
            version=row.version,
            report=Report.model_validate_json(row.report),
            decisions={d.criterion_id: _decision(d) for d in decisions},
            block_decisions={b.block: _block_decision(b) for b in blocks},
        )

    def _open_change(
        self,
        connection: sa.Connection,
        review_id: str,
        user: User,
        capability: Capability,
        expected_version: int,
        now: datetime,
    ) -> ReviewState:
        """Load the review, check the user may change it and that it is open, then take the version.

        The version is taken before the change is validated, so a stale screen gets « reload »
        rather than complaints about a state it does not show; a refusal after this point rolls
        the whole transaction back, version included.
        """
        state = self._load(connection, review_id)
        _require(user, state.summary, capability)
        _require_open(state.summary)
        self._bump(connection, state, expected_version, now)
        return state

    def get(self, review_id: str, user: User) -> ReviewState:
        with self._reading() as connection:
            state = self._load(connection, review_id)
        _require(user, state.summary, None)
        return state

    def list_reviews(self, user: User) -> list[ReviewSummary]:
        query = sa.select(*_SUMMARY_COLUMNS).order_by(
            reviews.c.updated_at.desc(), reviews.c.revision.desc(), reviews.c.id
        )
        with self._reading() as connection:
            summaries = [_summary(row) for row in connection.execute(query)]
        return [summary for summary in summaries if can_see(user, summary)]

    # -- creating ----------------------------------------------------------------------------

    def create_review(
        self,
        report: Report,
        *,
        user: User,
        candidate: str,
        candidate_username: str | None = None,
        assigned_jury: Sequence[str] = (),
    ) -> ReviewState:
        _require_may_create(user, report)
        if user.role is Role.CANDIDATE:
            candidate_username = user.username  # a candidate's self-check is always their own
            candidate = candidate.strip() or user.display_name
        candidate = _required_text(candidate, "Indiquez le nom ou la référence du candidat.")
        candidate_username = (candidate_username or "").strip() or None
        jury = _clean_jury(assigned_jury, report)
        report_json = report.model_dump_json()
        review_id = new_review_id()
        now = now_utc()
        with self._writing() as connection:
            connection.execute(
                sa.insert(reviews).values(
                    id=review_id,
                    revision=1,
                    parent_id=None,
                    status=ReviewStatus.IN_REVIEW.value,
                    version=1,
                    candidate=candidate,
                    candidate_username=candidate_username,
                    referential_id=report.referential.id,
                    referential_title=report.referential.title,
                    blocks=list(report.referential.blocks),
                    mode=report.mode.value,
                    model=report.model,
                    created_by=user.username,
                    created_at=now,
                    updated_at=now,
                    assigned_jury=jury,
                    report=report_json,
                )
            )
            audit = _AuditWriter(connection)
            audit.append(
                user.username,
                "review_created",
                at=now,
                review_id=review_id,
                details=_creation_details(report, report_json, candidate_username, jury),
            )
            for result in report.criteria:
                audit.append(
                    f"machine:{result.model}",
                    "proposal",
                    at=now,
                    review_id=review_id,
                    criterion_id=result.criterion_id,
                    details=proposal_details(result),
                )
            return self._load(connection, review_id)

    # -- changing ----------------------------------------------------------------------------

    def _bump(
        self, connection: sa.Connection, state: ReviewState, expected_version: int, now: datetime, **values: Any
    ) -> None:
        """The optimistic lock: the change goes through only if nobody saved since ``expected_version``."""
        result = connection.execute(
            sa.update(reviews)
            .where(reviews.c.id == state.summary.id, reviews.c.version == expected_version)
            .values(version=reviews.c.version + 1, updated_at=now, **values)
        )
        if result.rowcount != 1:
            current = self._load(connection, state.summary.id)
            raise ConflictError(
                "Cette revue a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte "
                f"(version {expected_version}, actuelle {current.version}) : rechargez-la, "
                "vérifiez les changements, puis refaites votre modification.",
                current,
            )

    def _save_decision(
        self, connection: sa.Connection, review_id: str, decision: CriterionDecision, exists: bool
    ) -> None:
        values = decision.model_dump(exclude={"criterion_id"})
        values["action"] = decision.action.value if decision.action else None
        table = criterion_decisions
        if exists:
            connection.execute(
                sa.update(table)
                .where(table.c.review_id == review_id, table.c.criterion_id == decision.criterion_id)
                .values(**values)
            )
        else:
            connection.execute(
                sa.insert(table).values(review_id=review_id, criterion_id=decision.criterion_id, **values)
            )

    def decide_criterion(
        self,
        review_id: str,
        user: User,
        criterion_id: str,
        *,
        expected_version: int,
        accept: bool,
        outcome: str | None = None,
        reason: str = "",
        comment: str | None = None,
    ) -> ReviewState:
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.DECIDE, expected_version, now)
            proposal = _criterion(state.report, criterion_id)
            before = state.decisions.get(criterion_id)
            if accept:
                action, decided, reason = (
                    CriterionAction.ACCEPTED,
                    _accepted_outcome(state.report, proposal, outcome),
                    reason.strip(),
                )
            else:
                action, decided = CriterionAction.OVERRIDDEN, _overridden_outcome(state.report, outcome)
                reason = _required_text(reason, "Indiquez le motif de la décision qui remplace la proposition.")
            decision = CriterionDecision(
                criterion_id=criterion_id,
                action=action,
                outcome=decided,
                reason=reason,
                comment=(before.comment if before else "") if comment is None else comment.strip(),
                decided_by=user.username,
                decided_at=now,
            )
            self._save_decision(connection, review_id, decision, exists=before is not None)
            _AuditWriter(connection).append(
                user.username,
                "criterion_accepted" if accept else "criterion_overridden",
                at=now,
                review_id=review_id,
                criterion_id=criterion_id,
                before=_dump(before),
                after=_dump(decision),
                details={"proposal_outcome": proposal.outcome, "version": expected_version + 1},
            )
            return self._load(connection, review_id)

    def comment_criterion(
        self, review_id: str, user: User, criterion_id: str, *, expected_version: int, comment: str
    ) -> ReviewState:
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.COMMENT, expected_version, now)
            _criterion(state.report, criterion_id)
            before = state.decisions.get(criterion_id)
            decision = (before or CriterionDecision(criterion_id=criterion_id)).model_copy(
                update={"comment": comment.strip()}
            )
            self._save_decision(connection, review_id, decision, exists=before is not None)
            _AuditWriter(connection).append(
                user.username,
                "criterion_commented",
                at=now,
                review_id=review_id,
                criterion_id=criterion_id,
                before=_dump(before),
                after=_dump(decision),
                details={"version": expected_version + 1},
            )
            return self._load(connection, review_id)

    def decide_block(
        self,
        review_id: str,
        user: User,
        block: str,
        *,
        expected_version: int,
        verdict: BlockVerdict,
        justification: str,
    ) -> ReviewState:
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.BLOCK, expected_version, now)
            blocks = state.report.referential.blocks
            if block not in blocks:
                raise InvalidDecision(
                    f"Le bloc « {block[:40]} » ne fait pas partie de cette revue (blocs : {', '.join(blocks)})."
                )
            decision = BlockDecision(
                block=block,
                verdict=_verdict(verdict),
                justification=_required_text(justification, f"Justifiez la décision sur le bloc {block}."),
                decided_by=user.username,
                decided_at=now,
            )
            before = state.block_decisions.get(block)
            values = decision.model_dump(exclude={"block"})
            values["verdict"] = decision.verdict.value
            if before is None:
                connection.execute(sa.insert(block_decisions).values(review_id=review_id, block=block, **values))
            else:
                connection.execute(
                    sa.update(block_decisions)
                    .where(block_decisions.c.review_id == review_id, block_decisions.c.block == block)
                    .values(**values)
                )
            _AuditWriter(connection).append(
                user.username,
                "block_decided",
                at=now,
                review_id=review_id,
                before=_dump(before),
                after=_dump(decision),
                details={"block": block, "version": expected_version + 1},
            )
            return self._load(connection, review_id)

    def sign(self, review_id: str, user: User, *, expected_version: int, signer_name: str) -> ReviewState:
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.SIGN, expected_version, now)
            if state.report.mode is not Mode.JURY:
                raise InvalidDecision("Seule une revue en mode jury se signe.")
            missing = [block for block in state.report.referential.blocks if block not in state.block_decisions]
            if missing:
                raise InvalidDecision(
                    "Avant de signer, statuez sur chaque bloc : "
                    f"{'bloc' if len(missing) == 1 else 'blocs'} sans décision : {', '.join(missing)}."
                )
            name = _required_text(signer_name, "Indiquez vos nom et prénom pour signer.")
            signature = {"status": ReviewStatus.SIGNED.value, "signed_by": user.username, "signed_by_name": name}
            connection.execute(sa.update(reviews).where(reviews.c.id == review_id).values(**signature, signed_at=now))
            _AuditWriter(connection).append(
                user.username,
                "review_signed",
                at=now,
                review_id=review_id,
                before={"status": state.summary.status.value},
                after={**signature, "signed_at": now.isoformat()},
                details={
                    "version": expected_version + 1,
                    "blocks": {b: d.verdict.value for b, d in state.block_decisions.items()},
                    "criteria_without_decision": [
                        c.criterion_id for c in state.report.criteria if state.final_outcome(c.criterion_id) is None
                    ],
                },
            )
            return self._load(connection, review_id)

    def new_revision(self, review_id: str, user: User, *, reason: str) -> ReviewState:
        with self._writing() as connection:
            old = self._load(connection, review_id)
            _require(user, old.summary, Capability.REVISE)
            if old.summary.status is ReviewStatus.IN_REVIEW:
                raise InvalidDecision("Cette revue n'est pas signée : modifiez-la directement.")
            if old.summary.status is ReviewStatus.SUPERSEDED:
                raise InvalidDecision(SUPERSEDED_READ_ONLY)
            why = _required_text(reason, "Indiquez le motif de la nouvelle révision.")
            now = now_utc()
            self._bump(connection, old, old.version, now, status=ReviewStatus.SUPERSEDED.value)
            new_id = self._copy_review(connection, old, now)
            audit = _AuditWriter(connection)
            audit.append(
                user.username,
                "review_superseded",
                at=now,
                review_id=review_id,
                before={"status": old.summary.status.value},
                after={"status": ReviewStatus.SUPERSEDED.value, "replaced_by": new_id},
                details={"reason": why, "version": old.version + 1},
            )
            report_json = connection.execute(sa.select(reviews.c.report).where(reviews.c.id == new_id)).scalar_one()
            audit.append(
                user.username,
                "revision_created",
                at=now,
                review_id=new_id,
                after={"status": ReviewStatus.IN_REVIEW.value, "revision": old.summary.revision + 1},
                details={"parent_id": review_id, "reason": why, "report_sha256": report_sha256(report_json)},
            )
            return self._load(connection, new_id)

    def _copy_review(self, connection: sa.Connection, old: ReviewState, now: datetime) -> str:
        """A new open revision: same report (copied as stored), same people, decisions carried over."""
        new_id = new_review_id()
        row = connection.execute(sa.select(reviews).where(reviews.c.id == old.summary.id)).one()._asdict()
        row.update(
            id=new_id,
            revision=old.summary.revision + 1,
            parent_id=old.summary.id,
            status=ReviewStatus.IN_REVIEW.value,
            version=1,
            created_at=now,
            updated_at=now,
            signed_by=None,
            signed_by_name=None,
            signed_at=None,
        )
        connection.execute(sa.insert(reviews).values(**row))
        for table in (criterion_decisions, block_decisions):
            rows = connection.execute(sa.select(table).where(table.c.review_id == old.summary.id)).all()
            if rows:
                connection.execute(sa.insert(table), [{**r._asdict(), "review_id": new_id} for r in rows])
        return new_id

    # -- audit -------------------------------------------------------------------------------

    def record(
        self,
        actor: str,
        action: str,
        *,
        review_id: str | None = None,
        criterion_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Log an app event (login, failed login, export…) in the same chain as the decisions."""
        if not actor.strip() or not action.strip():
            raise ValueError("an audit entry needs an actor and an action")
        with self._writing() as connection:
            return _AuditWriter(connection).append(
                actor[:200],
                action[:64],
                at=now_utc(),
                review_id=review_id,
                criterion_id=criterion_id,
                before=before,
                after=after,
                details=details,
            )

    def audit_log(self, review_id: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit_log).order_by(audit_log.c.id)
        if review_id is not None:
            query = query.where(audit_log.c.review_id == review_id)
        with self._reading() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def verify_audit_chain(self) -> list[str]:
        """Recompute every hash; also check each stored report against the hash logged at its creation."""
        with self._reading() as connection:
            problems = _chain_problems(connection.execute(sa.select(audit_log).order_by(audit_log.c.id)))
            problems += _report_problems(connection)
        return problems


# -- validation helpers ----------------------------------------------------------------------


def _require_may_create(user: User, report: Report) -> None:
    mode = CREATABLE_MODE.get(user.role)
    if mode is None:
        raise PermissionDenied(ADMIN_READ_ONLY)
    if report.mode is not mode:
        raise PermissionDenied(
            f"En tant que {ROLE_LABELS[user.role]}, vous ne pouvez créer que des revues en mode "
            f"{MODE_LABELS[mode]} (ce rapport est en mode {MODE_LABELS[report.mode]})."
        )


def _clean_jury(assigned_jury: Sequence[str], report: Report) -> list[str]:
    jury = list(dict.fromkeys(name.strip() for name in assigned_jury if name.strip()))
    if jury and report.mode is not Mode.JURY:
        raise InvalidDecision("Seule une revue en mode jury peut être confiée à des membres du jury.")
    return jury


def _creation_details(
    report: Report, report_json: str, candidate_username: str | None, jury: list[str]
) -> dict[str, Any]:
    """What the review was made from. Not the candidate's name: the log is never erased, so it keeps
    no more personal data than it must; the name stays in the review, which the review id points to."""
    return {
        "candidate_username": candidate_username,
        "assigned_jury": jury,
        "mode": report.mode.value,
        "model": report.model,
        "evidence_only": report.evidence_only,
        "prompt_version": report.prompt_version,
        "referential": report.referential.model_dump(mode="json"),
        "dossier": report.dossier.model_dump(mode="json"),
        "report_created_at": report.created_at.isoformat(),
        "report_sha256": report_sha256(report_json),
        "usage": report.usage.model_dump(mode="json"),
        "dossier_flags": [flag.model_dump(mode="json") for flag in report.flags],
    }


def _criterion(report: Report, criterion_id: str) -> CriterionResult:
    for result in report.criteria:
        if result.criterion_id == criterion_id:
            return result
    raise NotFound(f"Le critère « {criterion_id[:80]} » ne fait pas partie de cette revue.")


def _accepted_outcome(report: Report, proposal: CriterionResult, outcome: str | None) -> str:
    """Accepting takes the proposal's outcome, which must be a verdict the jury can adopt."""
    if proposal.outcome == EVIDENCE_TO_EXAMINE or proposal.outcome not in report.outcome_labels:
        label = report.outcome_labels.get(proposal.outcome, proposal.outcome)
        raise InvalidDecision(
            f"La proposition « {label} » n'est pas une décision (des passages à lire) : "
            "choisissez vous-même l'issue de ce critère et indiquez le motif."
        )
    if outcome is not None and outcome != proposal.outcome:
        raise InvalidDecision("Pour retenir une autre issue que la proposition, modifiez la décision avec un motif.")
    return proposal.outcome


def _overridden_outcome(report: Report, outcome: str | None) -> str:
    choices = {code: label for code, label in report.outcome_labels.items() if code != EVIDENCE_TO_EXAMINE}
    if outcome not in choices:
        raise InvalidDecision(
            "Choisissez l'issue retenue parmi : " + ", ".join(f"« {label} »" for label in choices.values()) + "."
        )
    return outcome


def _verdict(verdict: BlockVerdict | str) -> BlockVerdict:
    try:
        return BlockVerdict(verdict)
    except ValueError:
        raise InvalidDecision("La décision sur un bloc est « validé » ou « non validé ».") from None


def _chain_problems(rows: Iterator[sa.Row[Any]] | sa.CursorResult[Any]) -> list[str]:
    problems: list[str] = []
    prev_id, prev_hash = 0, GENESIS_HASH
    for row in rows:
        where = f"Entrée {row.id} du journal d'audit ({row.action}, {row.at:%d/%m/%Y %H:%M:%S} UTC)"
        if row.id != prev_id + 1:
            problems.append(f"Entrées {prev_id + 1} à {row.id - 1} absentes du journal d'audit : supprimées ?")
        if row.prev_hash != prev_hash:
            problems.append(f"{where} : le lien vers l'entrée précédente a été modifié.")
        if chain_hash(prev_hash, _entry_fields(row)) != row.entry_hash:
            problems.append(f"{where} : contenu modifié après coup (l'empreinte ne correspond plus).")
        prev_id, prev_hash = row.id, row.entry_hash
    return problems


def _report_problems(connection: sa.Connection) -> list[str]:
    """Each review's stored report must still hash to what its creation entry recorded."""
    logged = {
        row.review_id: row.details.get("report_sha256")
        for row in connection.execute(
            sa.select(audit_log.c.review_id, audit_log.c.details).where(
                audit_log.c.action.in_(["review_created", "revision_created"])
            )
        )
    }
    problems = []
    for row in connection.execute(sa.select(reviews.c.id, reviews.c.report).order_by(reviews.c.created_at)):
        expected = logged.get(row.id)
        if expected is None:
            problems.append(f"Revue {row.id} : aucune entrée de création dans le journal d'audit.")
        elif report_sha256(row.report) != expected:
            problems.append(f"Revue {row.id} : le rapport enregistré a été modifié depuis sa création.")
    return problems
