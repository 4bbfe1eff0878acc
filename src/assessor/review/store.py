"""The review database: reviews, people's decisions, and a tamper-evident audit log.

One ``ReviewStore`` per process, shared by threads. The machine's ``Report`` is stored whole
and never modified; what people decide is appended, never rewritten (``review.schema``). Every
change:

* checks who may make it (``can_see`` and the role's capabilities) and that the review is open;
* increments the review's ``version`` with a conditional UPDATE (``WHERE version = expected``),
  so a change made against a stale screen is refused with ``ConflictError`` and nothing is written;
* appends to ``audit_log`` in the same transaction, each entry chained to the previous one by
  an HMAC whose key lives outside the database (``review.audit``), with appends serialised
  (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE``) so the chain never forks; the row a
  change writes points at the entry that recorded it, so the log explains every row.

A criterion is decided by a person (accepted or overridden with a reason) before its block is
decided, and every block is decided before the review is signed: a signed grid states only what
people decided. SQLite (the default, one file in the data folder) and PostgreSQL are supported.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.pool import StaticPool

from assessor.redaction import redact, redact_model
from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Mode, Report, Status, read_report
from assessor.review import audit, migrations
from assessor.review.audit import AuditKey, AuditWriter
from assessor.review.domain import (
    AuditAnchor,
    AuditEntry,
    BlockDecision,
    BlockVerdict,
    ConflictError,
    CriterionAction,
    CriterionDecision,
    InvalidDecision,
    NotFound,
    ReviewError,
    ReviewState,
    ReviewStatus,
    ReviewSummary,
    Role,
    User,
)
from assessor.review.permissions import (
    SUPERSEDED_READ_ONLY,
    Capability,
    can_see,
    may_sign,
    require,
    require_may_create,
    require_open,
)
from assessor.review.schema import audit_log, block_decisions, criterion_decisions, metadata, reviews, signatures
from assessor.review.sessions import SharedSessions
from assessor.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_KEY = 0x61737365  # PostgreSQL advisory lock held while migrating ("asse")

__all__ = ["AuditKey", "ReviewStore", "metadata"]

# -- helpers ---------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_review_id() -> str:
    """12 random URL-safe characters: unguessable, never derived from what a user typed.

    Never starting with « - » or « _ »: the command line would read « -x… » as an option."""
    while True:
        review_id = secrets.token_urlsafe(9)
        if review_id[0].isalnum():
            return review_id


def _dump(model: BaseModel | None) -> dict[str, Any] | None:
    return None if model is None else model.model_dump(mode="json")


MAX_TEXT_CHARS = 5000
"""A reason, comment or justification: a long page of text, far more than a jury writes for one decision."""
MAX_NAME_CHARS = 200
MAX_ASSIGNED_JURY = 30


def _bounded(value: str, limit: int, what: str) -> str:
    """Refuse a field longer than ``limit`` characters (sent by a tampered request, or pasted by mistake)."""
    if len(value) > limit:
        count, most = (f"{n:,}".replace(",", "\u202f") for n in (len(value), limit))
        raise InvalidDecision(f"{what} est trop long : {count} caractères, {most} au plus.")
    return value


def _required_text(value: str, message: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidDecision(message)
    return text


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _listed(ids: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" et {len(ids) - limit} autres" if len(ids) > limit else "")


def alembic_config(connection: sa.Connection | None = None, key: AuditKey | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the migrations folder inside the package.

    The audit key goes to the migrations that must record what they carried over in the log.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    if key is not None:
        config.attributes["audit_key"] = key
    return config


def head_revision() -> str:
    """The newest schema revision this code ships, as Alembic reads it from the migrations folder."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its initial revision
        raise RuntimeError("no migration found in the package")
    return head


def _refuse_unknown_revision(connection: sa.Connection) -> None:
    """A database migrated by a newer Assessor (a revision this code does not ship) is refused, not
    half-read: older ones are migrated by Alembic, one revision at a time."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    if current not in {revision.revision for revision in scripts.walk_revisions()}:
        raise ReviewError(
            f"La base de revue a été migrée par une version plus récente d'Assessor (révision {current}, "
            f"celle-ci s'arrête à {head_revision()}) : mettez Assessor à jour avant de l'ouvrir."
        )


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


def _summary(row: Any, signature: Any, superseded: bool) -> ReviewSummary:
    """A review's summary; its status follows from its signature and from a newer revision."""
    status = ReviewStatus.IN_REVIEW
    if superseded:
        status = ReviewStatus.SUPERSEDED
    elif signature is not None:
        status = ReviewStatus.SIGNED
    return ReviewSummary(
        id=row.id,
        candidate=row.candidate,
        candidate_username=row.candidate_username,
        referential_id=row.referential_id,
        referential_title=row.referential_title,
        blocks=list(row.blocks),
        mode=row.mode,
        model=row.model,
        status=status,
        revision=row.revision,
        parent_id=row.parent_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        signed_by=signature.signed_by if signature else None,
        signed_by_name=signature.signed_by_name if signature else None,
        signed_at=signature.signed_at if signature else None,
        assigned_jury=list(row.assigned_jury),
    )


def _latest(rows: Sequence[sa.Row[Any]], key: str) -> dict[str, sa.Row[Any]]:
    """The newest row (highest audit id) for each value of ``key``: the current decision."""
    current: dict[str, sa.Row[Any]] = {}
    for row in sorted(rows, key=lambda r: r.audit_id):
        current[getattr(row, key)] = row
    return current


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


def _key_for(url: sa.URL, settings: Settings | None = None) -> AuditKey:
    """The audit key: the setting, else the key file (created on first use), else a temporary key
    for an in-memory database. A PostgreSQL database without settings needs the key given."""
    if settings is not None and settings.audit_key is not None:
        return AuditKey.from_text(settings.audit_key.get_secret_value(), "réglage ASSESSOR_AUDIT_KEY")
    if settings is not None:
        return AuditKey.load_or_create(settings.resolved_audit_key_file)
    if url.get_backend_name() == "sqlite":
        if _is_memory(url):
            return AuditKey.ephemeral()
        if url.database and not url.database.startswith("file:"):
            return AuditKey.load_or_create(Path(url.database).parent / audit.KEY_FILE_NAME)
    raise ReviewError("Indiquez la clé d'audit de cette base (réglage ASSESSOR_AUDIT_KEY ou ASSESSOR_AUDIT_KEY_FILE).")


# -- the store -------------------------------------------------------------------------------


class ReviewStore:
    """Reviews and their audit trail in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, *, audit_key: AuditKey | None = None) -> None:
        parsed = _parse_url(url)
        self._postgres = parsed.get_backend_name() == "postgresql"
        self.audit_key = audit_key or _key_for(parsed)
        self._engine = _create_engine(parsed)
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            self._engine.dispose()
            raise ReviewError(f"Impossible d'ouvrir la base de revue {_hidden(parsed)} : {exc.orig}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewStore:
        url = settings.resolved_database_url
        return cls(url, audit_key=_key_for(_parse_url(url), settings))

    def dispose(self) -> None:
        self._engine.dispose()

    def sessions(self) -> SharedSessions:
        """The app's login sessions, in this database: every replica of the app shares them."""
        return SharedSessions(self._engine)

    def session_cookie_id(self) -> str:
        """The suffix of the session cookie's name: the same for every replica sharing this audit key."""
        return hmac.new(self.audit_key.secret, b"assessor-session-cookie", hashlib.sha256).hexdigest()[:32]

    # -- transactions ------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to head, serialised so two processes starting together cannot both migrate."""
        if self._at_head():
            return
        from alembic import command

        with self._engine.connect() as connection:
            connection.execution_options(assessor_write=True)
            with connection.begin():
                if self._postgres:
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                _refuse_unknown_revision(connection)
                command.upgrade(alembic_config(connection, self.audit_key), "head")

    def _at_head(self) -> bool:
        """Whether the database already stands at the newest revision (read without Alembic)."""
        with self._engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return False
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        return versions == [migrations.HEAD]

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

    def _audit(self, connection: sa.Connection) -> AuditWriter:
        return AuditWriter(connection, self.audit_key)

    # -- reading -----------------------------------------------------------------------------

    def _load(self, connection: sa.Connection, review_id: str) -> ReviewState:
        row = connection.execute(sa.select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise NotFound(f"Aucune revue « {review_id[:40]} ».")
        signature = connection.execute(sa.select(signatures).where(signatures.c.review_id == review_id)).first()
        superseded = connection.execute(
            sa.select(sa.func.count()).select_from(reviews).where(reviews.c.parent_id == review_id)
        ).scalar_one()
        decisions = connection.execute(
            sa.select(criterion_decisions).where(criterion_decisions.c.review_id == review_id)
        ).all()
        blocks = connection.execute(sa.select(block_decisions).where(block_decisions.c.review_id == review_id)).all()
        return ReviewState(
            summary=_summary(row, signature, superseded > 0),
            version=row.version,
            report=read_report(row.report),
            decisions={cid: audit.decision(d) for cid, d in _latest(decisions, "criterion_id").items()},
            block_decisions={code: audit.block_decision(b) for code, b in _latest(blocks, "block").items()},
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
        require(user, state.summary, capability)
        require_open(state.summary)
        self._bump(connection, state, expected_version, now)
        return state

    def get(self, review_id: str, user: User) -> ReviewState:
        with self._reading() as connection:
            state = self._load(connection, review_id)
        require(user, state.summary, None)
        return state

    def list_reviews(self, user: User) -> list[ReviewSummary]:
        columns = [column for column in reviews.c if column.name != "report"]
        child = reviews.alias("child")
        superseded = sa.exists().where(child.c.parent_id == reviews.c.id).label("superseded")
        query = (
            sa.select(*columns, signatures.c.signed_by, signatures.c.signed_by_name, signatures.c.signed_at, superseded)
            .select_from(reviews.outerjoin(signatures, signatures.c.review_id == reviews.c.id))
            .order_by(reviews.c.updated_at.desc(), reviews.c.revision.desc(), reviews.c.id)
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        summaries = [_summary(row, row if row.signed_at is not None else None, bool(row.superseded)) for row in rows]
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
        require_may_create(user, report)
        _bounded(candidate, MAX_NAME_CHARS, "Le nom du candidat")
        if len(assigned_jury) > MAX_ASSIGNED_JURY:
            raise InvalidDecision(f"Trop de membres du jury assignés : {MAX_ASSIGNED_JURY} au plus.")
        report = redact_model(report)  # a report from elsewhere may still hold a key a model repeated
        if user.role is Role.CANDIDATE:
            candidate_username = user.username  # a candidate's self-check is always their own
            candidate = candidate.strip() or user.display_name
        candidate = _required_text(candidate, "Indiquez le nom ou la référence du candidat.")
        candidate_username = (candidate_username or "").strip() or None
        jury = _clean_jury(assigned_jury, report)
        now = now_utc()
        row: dict[str, Any] = {
            "id": new_review_id(),
            "revision": 1,
            "parent_id": None,
            "version": 1,
            "candidate": candidate,
            "candidate_username": candidate_username,
            "referential_id": report.referential.id,
            "referential_title": report.referential.title,
            "blocks": list(report.referential.blocks),
            "mode": report.mode.value,
            "model": report.model,
            "created_by": user.username,
            "created_at": now,
            "updated_at": now,
            "assigned_jury": jury,
            "report": report.model_dump_json(),
        }
        with self._writing() as connection:
            connection.execute(sa.insert(reviews).values(**row))
            writer = self._audit(connection)
            writer.append(
                user.username,
                "review_created",
                at=now,
                review_id=row["id"],
                details=_creation_details(report, row),
            )
            for result in report.criteria:
                writer.append(
                    f"machine:{result.model}",
                    "proposal",
                    at=now,
                    review_id=row["id"],
                    criterion_id=result.criterion_id,
                    details=proposal_details(result),
                )
            return self._load(connection, row["id"])

    # -- changing ----------------------------------------------------------------------------

    def _bump(self, connection: sa.Connection, state: ReviewState, expected_version: int, now: datetime) -> None:
        """The optimistic lock: the change goes through only if nobody saved since ``expected_version``."""
        result = connection.execute(
            sa.update(reviews)
            .where(reviews.c.id == state.summary.id, reviews.c.version == expected_version)
            .values(version=reviews.c.version + 1, updated_at=now)
        )
        if result.rowcount != 1:
            current = self._load(connection, state.summary.id)
            raise ConflictError(
                "Cette revue a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte "
                f"(version {expected_version}, actuelle {current.version}) : rechargez-la, "
                "vérifiez les changements, puis refaites votre modification.",
                current,
            )

    @staticmethod
    def _insert_decision(connection: sa.Connection, review_id: str, decision: CriterionDecision, audit_id: int) -> None:
        values = decision.model_dump(exclude={"criterion_id"})
        values["action"] = decision.action.value if decision.action else None
        connection.execute(
            sa.insert(criterion_decisions).values(
                review_id=review_id, criterion_id=decision.criterion_id, audit_id=audit_id, **values
            )
        )

    @staticmethod
    def _insert_block(connection: sa.Connection, review_id: str, decision: BlockDecision, audit_id: int) -> None:
        values = decision.model_dump(exclude={"block"})
        values["verdict"] = decision.verdict.value
        connection.execute(
            sa.insert(block_decisions).values(review_id=review_id, block=decision.block, audit_id=audit_id, **values)
        )

    def _record_decision(
        self,
        connection: sa.Connection,
        writer: AuditWriter,
        state: ReviewState,
        user: User,
        decision: CriterionDecision,
        action: str,
        details: dict[str, Any],
    ) -> None:
        """Append the entry that records ``decision``, then the row that points at it."""
        decision = redact_model(decision)
        before = state.decisions.get(decision.criterion_id)
        entry = writer.append(
            user.username,
            action,
            at=decision.decided_at or now_utc(),
            review_id=state.summary.id,
            criterion_id=decision.criterion_id,
            before=_dump(before),
            after=_dump(decision),
            details=details,
        )
        self._insert_decision(connection, state.summary.id, decision, entry.id)

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
        _bounded(reason, MAX_TEXT_CHARS, "Le motif")
        _bounded(comment or "", MAX_TEXT_CHARS, "Le commentaire")
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
            self._record_decision(
                connection,
                self._audit(connection),
                state,
                user,
                decision,
                "criterion_accepted" if accept else "criterion_overridden",
                {"proposal_outcome": proposal.outcome, "version": expected_version + 1},
            )
            return self._load(connection, review_id)

    def comment_criterion(
        self, review_id: str, user: User, criterion_id: str, *, expected_version: int, comment: str
    ) -> ReviewState:
        _bounded(comment, MAX_TEXT_CHARS, "Le commentaire")
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.COMMENT, expected_version, now)
            _criterion(state.report, criterion_id)
            before = state.decisions.get(criterion_id)
            decision = (before or CriterionDecision(criterion_id=criterion_id)).model_copy(
                update={"comment": redact(comment.strip())}
            )
            entry = self._audit(connection).append(
                user.username,
                "criterion_commented",
                at=now,
                review_id=review_id,
                criterion_id=criterion_id,
                before=_dump(before),
                after=_dump(decision),
                details={"version": expected_version + 1},
            )
            self._insert_decision(connection, review_id, decision, entry.id)
            return self._load(connection, review_id)

    def remaining_proposals(self, state: ReviewState, block: str) -> tuple[list[str], list[tuple[str, str]]]:
        """What « accepter les propositions restantes du bloc » would do: the criteria without a jury
        decision whose proposal it would accept, and those it would leave, with why."""
        if block not in state.report.referential.blocks:
            raise InvalidDecision(_unknown_block(block, state.report))
        accepted: list[str] = []
        left: list[tuple[str, str]] = []
        for result in state.report.criteria:
            if result.block != block or state.final_outcome(result.criterion_id) is not None:
                continue
            why = _not_acceptable_in_bulk(state.report, result)
            if why is None:
                accepted.append(result.criterion_id)
            else:
                left.append((result.criterion_id, why))
        return accepted, left

    def accept_remaining(
        self,
        review_id: str,
        user: User,
        block: str,
        *,
        expected_version: int,
        expected: Sequence[str] | None = None,
    ) -> tuple[ReviewState, list[str], list[tuple[str, str]]]:
        """Accept, in one audited action, the proposals of the block's undecided criteria that can be
        accepted as they stand (« accepter les propositions restantes du bloc »).

        ``expected`` is the list the user was shown: if what would be accepted differs, nothing is
        written. Returns the new state, the criteria accepted and those left to decide by hand.
        """
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.DECIDE, expected_version, now)
            accepted, left = self.remaining_proposals(state, block)
            if expected is not None and list(expected) != accepted:
                raise InvalidDecision(
                    "La liste des propositions à accepter a changé depuis son affichage : affichez-la de nouveau."
                )
            if not accepted:
                rest = _plural(len(left), "critère reste", "critères restent")
                rest = f" : {rest} à décider un par un" if left else ""
                raise InvalidDecision(f"Aucune proposition du bloc {block} ne peut être acceptée telle quelle{rest}.")
            writer = self._audit(connection)
            summary = writer.append(
                user.username,
                "block_remaining_accepted",
                at=now,
                review_id=review_id,
                details={
                    "block": block,
                    "accepted": [
                        {"criterion_id": cid, "outcome": _criterion(state.report, cid).outcome} for cid in accepted
                    ],
                    "left": [{"criterion_id": cid, "why": why} for cid, why in left],
                    "version": expected_version + 1,
                },
            )
            for criterion_id in accepted:
                proposal = _criterion(state.report, criterion_id)
                before = state.decisions.get(criterion_id)
                decision = CriterionDecision(
                    criterion_id=criterion_id,
                    action=CriterionAction.ACCEPTED,
                    outcome=proposal.outcome,
                    reason="",
                    comment=before.comment if before else "",
                    decided_by=user.username,
                    decided_at=now,
                )
                self._record_decision(
                    connection,
                    writer,
                    state,
                    user,
                    decision,
                    "criterion_accepted",
                    {"proposal_outcome": proposal.outcome, "with": summary.id, "version": expected_version + 1},
                )
            return self._load(connection, review_id), accepted, left

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
        _bounded(justification, MAX_TEXT_CHARS, "La justification")
        with self._writing() as connection:
            now = now_utc()
            state = self._open_change(connection, review_id, user, Capability.BLOCK, expected_version, now)
            if block not in state.report.referential.blocks:
                raise InvalidDecision(_unknown_block(block, state.report))
            undecided = [
                r.criterion_id
                for r in state.report.criteria
                if r.block == block and state.final_outcome(r.criterion_id) is None
            ]
            if undecided:
                raise InvalidDecision(
                    f"Avant de statuer sur le bloc {block}, décidez de chacun de ses critères : "
                    f"{_plural(len(undecided), 'critère', 'critères')} sans décision du jury "
                    f"({_listed(undecided)}). Acceptez ou modifiez chaque proposition, ou utilisez « accepter les "
                    "propositions restantes du bloc »."
                )
            decision = BlockDecision(
                block=block,
                verdict=_verdict(verdict),
                justification=redact(_required_text(justification, f"Justifiez la décision sur le bloc {block}.")),
                decided_by=user.username,
                decided_at=now,
            )
            entry = self._audit(connection).append(
                user.username,
                "block_decided",
                at=now,
                review_id=review_id,
                before=_dump(state.block_decisions.get(block)),
                after=_dump(decision),
                details={"block": block, "version": expected_version + 1},
            )
            self._insert_block(connection, review_id, decision, entry.id)
            return self._load(connection, review_id)

    def sign(self, review_id: str, user: User, *, expected_version: int, signer_name: str) -> ReviewState:
        _bounded(signer_name, MAX_NAME_CHARS, "Le nom du signataire")
        with self._writing() as connection:
            now = now_utc()
            # Nobody signs records that were changed behind the tool's back (checked before this change bumps
            # the version the log is compared with).
            problems = audit.verify(connection, self.audit_key, review_id=review_id)
            if problems:
                raise InvalidDecision(
                    "Signature impossible : les enregistrements de cette revue ne correspondent plus au journal "
                    f"d'audit ({problems[0].rstrip('.')}). Faites vérifier la base : assessor review verify."
                )
            state = self._open_change(connection, review_id, user, Capability.SIGN, expected_version, now)
            if not may_sign(user, state.summary):
                raise InvalidDecision("Seule une revue en mode jury se signe.")
            missing = [block for block in state.report.referential.blocks if block not in state.block_decisions]
            if missing:
                raise InvalidDecision(
                    "Avant de signer, statuez sur chaque bloc : "
                    f"{'bloc' if len(missing) == 1 else 'blocs'} sans décision : {', '.join(missing)}."
                )
            undecided = [c.criterion_id for c in state.report.criteria if state.final_outcome(c.criterion_id) is None]
            if undecided:  # a block decision needs its criteria decided; this catches older reviews
                raise InvalidDecision(
                    "Avant de signer, décidez de chaque critère : "
                    f"{_plural(len(undecided), 'critère', 'critères')} sans décision du jury ({_listed(undecided)})."
                )
            name = redact(_required_text(signer_name, "Indiquez vos nom et prénom pour signer."))
            signature = {"signed_by": user.username, "signed_by_name": name, "signed_at": now}
            entry = self._audit(connection).append(
                user.username,
                "review_signed",
                at=now,
                review_id=review_id,
                before={"status": state.summary.status.value},
                after={"status": ReviewStatus.SIGNED.value, **signature, "signed_at": now.isoformat()},
                details={
                    "version": expected_version + 1,
                    "blocks": {b: d.verdict.value for b, d in state.block_decisions.items()},
                    "decisions": {cid: d.outcome for cid, d in sorted(state.decisions.items()) if d.action},
                },
            )
            connection.execute(sa.insert(signatures).values(review_id=review_id, audit_id=entry.id, **signature))
            return self._load(connection, review_id)

    def new_revision(self, review_id: str, user: User, *, reason: str) -> ReviewState:
        _bounded(reason, MAX_TEXT_CHARS, "Le motif de la révision")
        with self._writing() as connection:
            old = self._load(connection, review_id)
            require(user, old.summary, Capability.REVISE)
            if old.summary.status is ReviewStatus.IN_REVIEW:
                raise InvalidDecision("Cette revue n'est pas signée : modifiez-la directement.")
            if old.summary.status is ReviewStatus.SUPERSEDED:
                raise InvalidDecision(SUPERSEDED_READ_ONLY)
            why = _required_text(reason, "Indiquez le motif de la nouvelle révision.")
            now = now_utc()
            self._bump(connection, old, old.version, now)
            row = connection.execute(sa.select(reviews).where(reviews.c.id == review_id)).one()._asdict()
            row.update(
                id=new_review_id(),
                revision=old.summary.revision + 1,
                parent_id=review_id,
                version=1,
                created_at=now,
                updated_at=now,
            )
            connection.execute(sa.insert(reviews).values(**row))
            writer = self._audit(connection)
            writer.append(
                user.username,
                "review_superseded",
                at=now,
                review_id=review_id,
                before={"status": old.summary.status.value},
                after={"status": ReviewStatus.SUPERSEDED.value, "replaced_by": row["id"]},
                details={"reason": why, "version": old.version + 1},
            )
            carried = [_dump(d) for d in old.decisions.values()]
            carried_blocks = [_dump(b) for b in old.block_decisions.values()]
            entry = writer.append(
                user.username,
                "revision_created",
                at=now,
                review_id=row["id"],
                after={"status": ReviewStatus.IN_REVIEW.value, "revision": row["revision"]},
                details={
                    **audit.review_json(row),
                    "reason": why,
                    "carried_decisions": carried,
                    "carried_blocks": carried_blocks,
                },
            )
            for decision in old.decisions.values():
                self._insert_decision(connection, row["id"], decision, entry.id)
            for block in old.block_decisions.values():
                self._insert_block(connection, row["id"], block, entry.id)
            return self._load(connection, row["id"])

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
            return self._audit(connection).append(
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
            return [audit.entry(row) for row in connection.execute(query)]

    def verify(self, *, review_id: str | None = None, against: AuditAnchor | None = None) -> list[str]:
        """Every break of the audit chain and every row the log does not explain (empty: intact).

        ``against``: the anchor printed on a signed export, which also reveals a deleted tail.
        """
        with self._reading() as connection:
            problems = audit.verify(connection, self.audit_key, review_id=review_id)
            if against is not None:
                problems += audit.anchor_problems(connection, against, self.audit_key)
        return problems

    def differences_from_export(self, document: Mapping[str, Any]) -> list[str]:
        """Where the database no longer says what an exported JSON grid says (signature, decisions, blocks).

        For an auditor holding the grid: no permission check, as for ``verify``.
        """
        review = document.get("review") or {}
        review_id = str(review.get("id", ""))
        with self._reading() as connection:
            try:
                state = self._load(connection, review_id)
            except NotFound:
                return [f"La revue {review_id} de la grille exportée n'existe plus dans la base."]
        problems: list[str] = []
        signature = document.get("signature") or {}
        if signature.get("signed") and state.summary.signed_at is None:
            problems.append(
                f"La grille exportée est signée par {signature.get('signed_by_name')} ; la base n'a plus cette "
                "signature."
            )
        for item in document.get("criteria", []):
            jury = item.get("jury") or {}
            criterion_id = str(item.get("criterion_id"))
            decision = state.decisions.get(criterion_id)
            held = (decision.action.value, decision.outcome) if decision and decision.action else (None, None)
            if (jury.get("action"), jury.get("outcome")) != held:
                problems.append(
                    f"Critère {criterion_id} : la grille exportée porte « {jury.get('outcome') or 'sans décision'} », "
                    f"la base « {held[1] or 'sans décision'} »."
                )
        for item in document.get("blocks", []):
            block = state.block_decisions.get(str(item.get("block")))
            held_verdict = block.verdict.value if block else None
            if item.get("verdict") != held_verdict:
                problems.append(
                    f"Bloc {item.get('block')} : la grille exportée porte « {item.get('verdict') or 'sans décision'} »"
                    f", la base « {held_verdict or 'sans décision'} »."
                )
        return problems

    def anchor(self, review_id: str, user: User) -> AuditAnchor:
        """The audit anchor an export of this review carries (see ``AuditAnchor``)."""
        with self._reading() as connection:
            state = self._load(connection, review_id)
            require(user, state.summary, None)
            return audit.anchor(connection, review_id, self.audit_key)


# -- validation helpers ----------------------------------------------------------------------


def _clean_jury(assigned_jury: Sequence[str], report: Report) -> list[str]:
    jury = list(dict.fromkeys(name.strip() for name in assigned_jury if name.strip()))
    if jury and report.mode is not Mode.JURY:
        raise InvalidDecision("Seule une revue en mode jury peut être confiée à des membres du jury.")
    return jury


def _creation_details(report: Report, row: dict[str, Any]) -> dict[str, Any]:
    """What the review was made from, and the facts of its row that verification checks.

    Not the candidate's name (its hash only): the log is never erased, so it keeps no more
    personal data than it must; the name stays in the review, which the review id points to.
    """
    return {
        **audit.review_json(row),
        "evidence_only": report.evidence_only,
        "prompt_version": report.prompt_version,
        "referential": report.referential.model_dump(mode="json"),
        "dossier": report.dossier.model_dump(mode="json"),
        "report_created_at": report.created_at.isoformat(),
        "usage": report.usage.model_dump(mode="json"),
        "dossier_flags": [flag.model_dump(mode="json") for flag in report.flags],
    }


def _criterion(report: Report, criterion_id: str) -> CriterionResult:
    for result in report.criteria:
        if result.criterion_id == criterion_id:
            return result
    raise NotFound(f"Le critère « {criterion_id[:80]} » ne fait pas partie de cette revue.")


def _unknown_block(block: str, report: Report) -> str:
    blocks = report.referential.blocks
    return f"Le bloc « {block[:40]} » ne fait pas partie de cette revue (blocs : {', '.join(blocks)})."


def acceptance_refusal(report: Report, proposal: CriterionResult) -> str | None:
    """Why the jury cannot adopt this proposal as it stands (None: it can)."""
    if proposal.outcome == EVIDENCE_TO_EXAMINE or proposal.outcome not in report.outcome_labels:
        label = report.outcome_labels.get(proposal.outcome, proposal.outcome)
        return (
            f"La proposition « {label} » n'est pas une décision (des passages à lire) : "
            "choisissez vous-même l'issue de ce critère et indiquez le motif."
        )
    return None


def _not_acceptable_in_bulk(report: Report, proposal: CriterionResult) -> str | None:
    """Why a proposal must be decided on its own rather than accepted with the rest of its block."""
    if acceptance_refusal(report, proposal) is not None:
        return "des passages à lire, pas une proposition : choisissez l'issue"
    if proposal.status is Status.NEEDS_REVIEW:
        return "proposition à revoir (alerte) : examinez-la avant de l'accepter"
    return None


def _accepted_outcome(report: Report, proposal: CriterionResult, outcome: str | None) -> str:
    """Accepting takes the proposal's outcome, which must be a verdict the jury can adopt."""
    refusal = acceptance_refusal(report, proposal)
    if refusal is not None:
        raise InvalidDecision(refusal)
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
