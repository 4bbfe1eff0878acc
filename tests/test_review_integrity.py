"""A record the jury can trust: decisions before signature, and tamper evidence (issue 11, points 2 and 3).

Every probe is an edit that someone with write access to the database file could make. Each is
either refused by the database itself, or, with the protecting triggers dropped first, reported
by verification, which replays the keyed audit log against the tables. Real SQLite files, real
reports of the omnicanal sample dossier.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from assessor.results import EVIDENCE_TO_EXAMINE, Report, Status
from assessor.review import audit
from assessor.review.audit import AuditKey
from assessor.review.domain import (
    BlockVerdict,
    CriterionAction,
    InvalidDecision,
    ReviewError,
    ReviewState,
    ReviewStatus,
    Role,
    User,
)
from assessor.review.exports import ExportFormat, export_review, read_anchor
from assessor.review.store import ReviewStore, alembic_config
from assessor.settings import Settings
from reviewdata import decide_block_criteria, referential, shared_report

JURY = User(username="jury1", display_name="Dupont Marie", role=Role.JURY)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {"evidence": shared_report("evidence"), "model": shared_report("model")}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "assessor.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ReviewStore]:
    review_store = ReviewStore(f"sqlite:///{db_path}")
    yield review_store
    review_store.dispose()


def open_review(store: ReviewStore, report: Report) -> ReviewState:
    return store.create_review(report, user=JURY, candidate="Candidat 042")


def signed(store: ReviewStore, report: Report) -> ReviewState:
    state = decide_block_criteria(store, open_review(store, report), JURY)
    state = store.decide_block(
        state.summary.id, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="ok"
    )
    return store.sign(state.summary.id, JURY, expected_version=state.version, signer_name="Marie Dupont")


def raw(db_path: Path, *statements: str, unprotected: bool = False) -> None:
    """Run SQL on the database file behind the tool's back (``unprotected``: after dropping every trigger)."""
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            if unprotected:
                for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                    connection.execute(f"DROP TRIGGER {name}")
            for statement in statements:
                connection.execute(statement)
    finally:
        connection.close()


# -- decisions before signature ------------------------------------------------------------------


def test_a_block_decision_needs_a_jury_decision_on_each_of_its_criteria(
    store: ReviewStore, reports: dict[str, Report]
) -> None:
    report = reports["model"]
    state = open_review(store, report)
    first = report.criteria[0].criterion_id
    state = store.decide_criterion(state.summary.id, JURY, first, expected_version=1, accept=True)
    with pytest.raises(InvalidDecision) as refused:
        store.decide_block(
            state.summary.id, JURY, "B1", expected_version=2, verdict=BlockVerdict.VALIDATED, justification="ok"
        )
    message = str(refused.value)
    assert f"{len(report.criteria) - 1} critères sans décision du jury" in message
    assert report.criteria[1].criterion_id in message and first not in message
    assert "accepter les propositions restantes du bloc" in message
    assert store.get(state.summary.id, JURY).block_decisions == {}  # nothing written
    # A comment is not a decision.
    state = store.comment_criterion(
        state.summary.id, JURY, report.criteria[1].criterion_id, expected_version=2, comment="vu"
    )
    with pytest.raises(InvalidDecision, match="sans décision du jury"):
        store.decide_block(
            state.summary.id, JURY, "B1", expected_version=3, verdict=BlockVerdict.VALIDATED, justification="ok"
        )


def test_accept_remaining_accepts_what_it_lists_and_leaves_what_needs_a_person(
    store: ReviewStore, reports: dict[str, Report]
) -> None:
    report = reports["model"]
    flagged = report.criteria[2].model_copy(update={"status": Status.NEEDS_REVIEW})
    examine = report.criteria[3].model_copy(update={"outcome": EVIDENCE_TO_EXAMINE})
    report = report.model_copy(update={"criteria": [*report.criteria[:2], flagged, examine, *report.criteria[4:]]})
    state = open_review(store, report)
    review = state.summary.id
    first = report.criteria[0].criterion_id
    state = store.decide_criterion(
        review, JURY, first, expected_version=1, accept=False, outcome="non_acquis", reason="Lu."
    )
    accepted, left = store.remaining_proposals(state, "B1")
    assert first not in accepted and flagged.criterion_id not in accepted and examine.criterion_id not in accepted
    assert dict(left) == {
        flagged.criterion_id: "proposition à revoir (alerte) : examinez-la avant de l'accepter",
        examine.criterion_id: "des passages à lire, pas une proposition : choisissez l'issue",
    }
    assert len(accepted) == len(report.criteria) - 3

    with pytest.raises(InvalidDecision, match="a changé depuis son affichage"):
        store.accept_remaining(review, JURY, "B1", expected_version=2, expected=accepted[1:])
    assert store.get(review, JURY).version == 2  # nothing written

    state, done, still = store.accept_remaining(review, JURY, "B1", expected_version=2, expected=accepted)
    assert done == accepted and still == left and state.version == 3
    for criterion_id in accepted:
        decision = state.decisions[criterion_id]
        assert decision.action is CriterionAction.ACCEPTED and decision.decided_by == "jury1"
    assert state.final_outcome(first) == "non_acquis"  # a decision already taken is never touched
    log = store.audit_log(review)
    bulk = next(e for e in log if e.action == "block_remaining_accepted")
    assert [a["criterion_id"] for a in bulk.details["accepted"]] == accepted
    assert [item["criterion_id"] for item in bulk.details["left"]] == [flagged.criterion_id, examine.criterion_id]
    each = [e for e in log if e.action == "criterion_accepted" and e.details.get("with") == bulk.id]
    assert [e.criterion_id for e in each] == accepted
    with pytest.raises(InvalidDecision, match="Aucune proposition du bloc B1 ne peut être acceptée telle quelle"):
        store.accept_remaining(review, JURY, "B1", expected_version=3)
    assert store.verify() == []


def test_signing_needs_every_block_decided_and_records_every_decision(
    store: ReviewStore, reports: dict[str, Report]
) -> None:
    report = reports["evidence"]
    state = open_review(store, report)
    with pytest.raises(InvalidDecision, match="statuez sur chaque bloc"):
        store.sign(state.summary.id, JURY, expected_version=1, signer_name="Marie Dupont")
    state = signed(store, report)
    assert state.summary.status is ReviewStatus.SIGNED
    assert all(state.final_outcome(c.criterion_id) for c in report.criteria)
    signing = store.audit_log(state.summary.id)[-1]
    assert signing.action == "review_signed"
    assert signing.details["decisions"] == {cid: d.outcome for cid, d in state.decisions.items()}


# -- the key -------------------------------------------------------------------------------------


def test_the_key_is_made_once_beside_the_database_readable_by_its_owner_only(
    store: ReviewStore, db_path: Path, reports: dict[str, Report]
) -> None:
    key_file = db_path.parent / "audit.key"
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    open_review(store, reports["evidence"])
    key_id = store.audit_key.key_id
    assert {e.key_id for e in store.audit_log()} == {key_id}
    assert store.audit_key.secret.decode() not in db_path.read_bytes().decode("utf-8", "replace")
    again = ReviewStore(f"sqlite:///{db_path}")
    try:
        assert again.audit_key.key_id == key_id and again.verify() == []
    finally:
        again.dispose()


def test_the_key_can_be_given_by_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, audit_key="une-clé-d-audit-tenue-hors-de-la-base-42")  # type: ignore[arg-type]
    store = ReviewStore.from_settings(settings)
    try:
        assert store.audit_key.source == "réglage ASSESSOR_AUDIT_KEY" and not (tmp_path / "audit.key").exists()
        assert "tenue-hors" not in repr(store.audit_key)  # the key is never printed
    finally:
        store.dispose()
    with pytest.raises(ReviewError, match="Clé d'audit trop courte"):
        ReviewStore.from_settings(Settings(data_dir=tmp_path, audit_key="court"))  # type: ignore[arg-type]


def test_a_chain_recomputed_without_the_key_is_detected(
    store: ReviewStore, db_path: Path, reports: dict[str, Report]
) -> None:
    """The attack that used to verify clean: change an entry, then recompute every hash after it."""
    state = open_review(store, reports["model"])
    store.decide_criterion(
        state.summary.id, JURY, reports["model"].criteria[0].criterion_id, expected_version=1, accept=True
    )
    engine = sa.create_engine(f"sqlite:///{db_path}")
    with engine.begin() as connection:
        for (name,) in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        rows = [dict(r._mapping) for r in connection.execute(sa.select(audit.audit_log).order_by(audit.audit_log.c.id))]
        prev = ""
        for row in rows:
            if row["action"] == "criterion_accepted":
                row["after"] = {**row["after"], "outcome": "non_acquis"}
            fields = audit.entry_fields(row)
            entry_hash = audit.legacy_hash(prev, fields)  # SHA-256, as anyone can compute
            connection.execute(
                sa.update(audit.audit_log)
                .where(audit.audit_log.c.id == row["id"])
                .values(after=row["after"], prev_hash=prev, entry_hash=entry_hash)
            )
            prev = entry_hash
    engine.dispose()
    problems = store.verify()
    assert len(problems) >= len(rows)  # every entry: its seal no longer matches
    assert all("contenu modifié" in p or "ne correspond plus" in p for p in problems)


def test_a_chain_resealed_with_another_key_says_so(
    store: ReviewStore, db_path: Path, reports: dict[str, Report]
) -> None:
    open_review(store, reports["evidence"])
    other = ReviewStore(f"sqlite:///{db_path}", audit_key=AuditKey.ephemeral())
    try:
        problems = other.verify()
        assert len(problems) == 1 and "n'est pas celle qui a scellé" in problems[0]
        assert store.audit_key.key_id in problems[0]
    finally:
        other.dispose()


# -- what the database refuses -------------------------------------------------------------------

REFUSED = [
    "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE id = 2",
    "INSERT INTO audit_log (id, at, actor, action, details, prev_hash, entry_hash, key_id) "
    "VALUES (999, '2026-01-01', 'mallory', 'login', '{}', 'x', 'y', 'k')",
    "UPDATE audit_log SET actor = 'mallory'",
    "DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)",
    "UPDATE criterion_decisions SET outcome = 'non_acquis'",
    "DELETE FROM criterion_decisions",
    "INSERT OR REPLACE INTO criterion_decisions SELECT * FROM criterion_decisions",
    "UPDATE block_decisions SET verdict = 'non_valide'",
    "DELETE FROM block_decisions",
    "INSERT OR REPLACE INTO block_decisions SELECT * FROM block_decisions",
    "UPDATE signatures SET signed_by_name = 'Mallory'",
    "DELETE FROM signatures",
    "INSERT OR REPLACE INTO signatures SELECT * FROM signatures",
    "UPDATE reviews SET candidate = 'Quelqu''un d''autre'",
    "UPDATE reviews SET report = '{}'",
    "UPDATE reviews SET version = version + 5",
    "DELETE FROM reviews",
    "INSERT OR REPLACE INTO reviews SELECT * FROM reviews",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_database_refuses_to_rewrite_the_record(
    store: ReviewStore, db_path: Path, reports: dict[str, Report], statement: str
) -> None:
    signed(store, reports["model"])
    before = store.audit_log()
    with pytest.raises(sqlite3.IntegrityError, match=r"ajout seul|journal d'audit|une revue ne se modifie pas"):
        raw(db_path, statement)
    assert store.audit_log() == before and store.verify() == []


# -- what verification reports when the triggers are gone ----------------------------------------

CHANGE_DECISION = (
    "UPDATE criterion_decisions SET outcome = 'partiellement_acquis' "
    "WHERE rowid = (SELECT MIN(rowid) FROM criterion_decisions)"
)
PROBES = [
    (
        "decision changed",
        CHANGE_DECISION,
        "modifiée hors de l'outil",
    ),
    (
        "decision added",
        "INSERT INTO criterion_decisions SELECT review_id, criterion_id, audit_id + 100000, 'modifie', 'acquis', "
        "'ajout', '', 'mallory', decided_at FROM criterion_decisions LIMIT 1",
        "aucune entrée du journal ne l'explique",
    ),
    (
        "decision deleted",
        "DELETE FROM criterion_decisions WHERE audit_id = (SELECT MAX(audit_id) FROM criterion_decisions)",
        "absente de la base",
    ),
    ("block verdict changed", "UPDATE block_decisions SET verdict = 'non_valide'", "Décision sur le bloc B1"),
    ("signature deleted", "DELETE FROM signatures", "Signature de la revue"),
    ("signer changed", "UPDATE signatures SET signed_by_name = 'Mallory'", "signed_by_name"),
    ("candidate changed", "UPDATE reviews SET candidate = 'Autre'", "candidate_sha256"),
    (
        "report changed",
        "UPDATE reviews SET report = replace(report, 'acquis', 'non_acquis')",
        "le rapport de la machine",
    ),
    ("entry changed", "UPDATE audit_log SET actor = 'mallory' WHERE id = 3", "Entrée 3 du journal"),
    ("entry deleted", "DELETE FROM audit_log WHERE id = 3", "Entrées 3 à 3 absentes"),
    (
        "review deleted",
        "DELETE FROM signatures; DELETE FROM block_decisions; DELETE FROM criterion_decisions; DELETE FROM reviews",
        "absente de la base",
    ),
    ("tail deleted", "DELETE FROM audit_log WHERE id >= (SELECT MAX(id) - 1 FROM audit_log)", "supprimées"),
]


@pytest.mark.parametrize(("what", "statement", "reported"), PROBES, ids=[p[0] for p in PROBES])
def test_verification_reports_every_edit_behind_the_tools_back(
    store: ReviewStore, db_path: Path, reports: dict[str, Report], what: str, statement: str, reported: str
) -> None:
    state = signed(store, reports["model"])
    assert store.verify() == []
    raw(db_path, *statement.split("; "), unprotected=True)
    problems = store.verify()
    assert problems, what
    assert any(reported in p for p in problems), problems
    assert any(state.summary.id in p or "Entrée" in p for p in problems)


def test_a_deleted_tail_is_caught_against_the_signed_export(
    store: ReviewStore, db_path: Path, reports: dict[str, Report], tmp_path: Path
) -> None:
    """Deleting the last entries, signature included, and the version trace: only the export remembers."""
    state = signed(store, reports["model"])
    anchor = store.anchor(state.summary.id, JURY)
    assert anchor.entry_id == store.audit_log()[-1].id and anchor.review_entries == len(
        store.audit_log(state.summary.id)
    )
    exported = {}
    for fmt in ExportFormat:
        path = tmp_path / f"grille.{fmt.value}"
        path.write_bytes(export_review(state, referential(), fmt, anchor=anchor))
        exported[fmt] = path
    assert store.verify(against=read_anchor(exported[ExportFormat.PDF])) == []
    document = json.loads(exported[ExportFormat.JSON].read_text(encoding="utf-8"))
    assert store.differences_from_export(document) == []

    version = state.version - 1
    raw(
        db_path,
        f"DELETE FROM audit_log WHERE id >= {anchor.entry_id}",
        "DELETE FROM signatures",
        f"UPDATE reviews SET version = {version}",  # hide the deletion from the version check too
        unprotected=True,
    )
    assert store.verify() == []  # the chain alone cannot see a clean cut
    for path in exported.values():
        problems = store.verify(against=read_anchor(path))
        assert any("a disparu" in p and "fin du journal a été supprimée" in p for p in problems), path
    assert any("n'a plus cette signature" in p for p in store.differences_from_export(document))


def test_nobody_signs_a_review_edited_behind_the_tools_back(
    store: ReviewStore, db_path: Path, reports: dict[str, Report]
) -> None:
    state = decide_block_criteria(store, open_review(store, reports["model"]), JURY)
    state = store.decide_block(
        state.summary.id, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="ok"
    )
    raw(db_path, CHANGE_DECISION, unprotected=True)
    with pytest.raises(InvalidDecision, match=r"Signature impossible .* ne correspond plus au journal"):
        store.sign(state.summary.id, JURY, expected_version=state.version, signer_name="Marie Dupont")
    assert store.get(state.summary.id, JURY).summary.status is ReviewStatus.IN_REVIEW


# -- a database of the previous schema -----------------------------------------------------------


def _v1_database(db_path: Path, report: Report) -> str:
    """A schema-0001 database as the previous release left it: a signed review (one criterion decided, the
    rest not, as that release allowed), an open one with a comment, and the unkeyed SHA-256 chain."""
    url = f"sqlite:///{db_path}"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001_initial")
    report_json = report.model_dump_json()
    t0, t1 = "2026-01-05 09:00:00.000000", "2026-01-05 10:30:00.000000"
    crit = report.criteria[0].criterion_id
    entries: list[dict[str, object]] = []

    def log(
        action: str, review: str, *, criterion: str | None = None, after: object = None, details: object = None
    ) -> None:
        entries.append(
            {"id": len(entries) + 1, "at": t1 if action != "review_created" else t0, "actor": "jury1", "action": action,
             "review_id": review, "criterion_id": criterion, "before": None, "after": after, "details": details or {}}
        )  # fmt: skip

    log("review_created", "r-signed", details={"report_sha256": audit.text_sha256(report_json), "mode": "jury"})
    decision = {"criterion_id": crit, "action": "accepte", "outcome": report.criteria[0].outcome, "reason": "",
                "comment": "", "decided_by": "jury1", "decided_at": "2026-01-05T10:30:00+00:00"}  # fmt: skip
    log("criterion_accepted", "r-signed", criterion=crit, after=decision, details={"version": 2})
    block = {"block": "B1", "verdict": "valide", "justification": "ok", "decided_by": "jury1",
             "decided_at": "2026-01-05T10:30:00+00:00"}  # fmt: skip
    log("block_decided", "r-signed", after=block, details={"block": "B1", "version": 3})
    log("review_signed", "r-signed", after={"signed_by": "jury1"}, details={"version": 4})
    log("review_created", "r-open", details={"report_sha256": audit.text_sha256(report_json)})
    log("criterion_commented", "r-open", criterion=crit, after={"comment": "à voir"}, details={"version": 2})
    with engine.begin() as connection:
        prev = ""
        for entry in entries:
            values = {**entry, "at": datetime.fromisoformat(str(entry["at"])).replace(tzinfo=UTC)}
            entry_hash = audit.legacy_hash(prev, audit.entry_fields(values))
            connection.exec_driver_sql(
                "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry["id"], entry["at"], "jury1", entry["action"], entry["review_id"], entry["criterion_id"],
                 None, json.dumps(entry["after"]) if entry["after"] is not None else None,
                 json.dumps(entry["details"]), prev, entry_hash),
            )  # fmt: skip
            prev = entry_hash
        for rid, status, version, signed_by in (("r-signed", "signee", 4, "jury1"), ("r-open", "en_cours", 2, None)):
            connection.exec_driver_sql(
                "INSERT INTO reviews VALUES (?, 1, NULL, ?, ?, 'Candidat 042', NULL, ?, ?, ?, 'jury', ?, 'jury1', "
                "?, ?, ?, ?, ?, '[]', ?)",
                (rid, status, version, report.referential.id, report.referential.title,
                 json.dumps(report.referential.blocks), report.model, t0, t1, signed_by,
                 "Marie Dupont" if signed_by else None, t1 if signed_by else None, report_json),
            )  # fmt: skip
        connection.exec_driver_sql(
            "INSERT INTO criterion_decisions VALUES ('r-signed', ?, 'accepte', ?, '', '', 'jury1', ?)",
            (crit, report.criteria[0].outcome, t1),
        )
        connection.exec_driver_sql(
            "INSERT INTO criterion_decisions VALUES ('r-open', ?, NULL, NULL, '', 'à voir', NULL, NULL)", (crit,)
        )
        connection.exec_driver_sql(
            "INSERT INTO block_decisions VALUES ('r-signed', 'B1', 'valide', 'ok', 'jury1', ?)", (t1,)
        )
    engine.dispose()
    return url


def test_a_database_of_the_previous_schema_is_migrated_and_still_verifies(
    db_path: Path, reports: dict[str, Report]
) -> None:
    report = reports["model"]
    url = _v1_database(db_path, report)
    store = ReviewStore(url)
    try:
        assert store.verify() == []
        signed_state = store.get("r-signed", JURY.model_copy(update={"role": Role.ADMIN}))
        assert (
            signed_state.summary.status is ReviewStatus.SIGNED and signed_state.summary.signed_by_name == "Marie Dupont"
        )
        crit = report.criteria[0].criterion_id
        assert signed_state.final_outcome(crit) == report.criteria[0].outcome
        assert signed_state.block_decisions["B1"].verdict is BlockVerdict.VALIDATED and signed_state.version == 4
        open_state = store.get("r-open", JURY)
        assert open_state.decisions[crit].comment == "à voir" and open_state.final_outcome(crit) is None
        migration = store.audit_log()[-1]
        assert migration.action == "schema_migrated" and migration.key_id == store.audit_key.key_id
        assert migration.details["legacy_entries"] == 6 and migration.details["legacy_entries_not_verified"] == []
        # Changes go on as usual, and the older export of the signed review warns about its undecided criteria.
        store.comment_criterion("r-open", JURY, crit, expected_version=2, comment="relu")
        assert store.verify() == []
        pdf = export_review(signed_state, referential(), ExportFormat.PDF)
        assert b"%PDF" in pdf[:8]
    finally:
        store.dispose()
    # The migrated rows are explained by the migration's entry; the legacy entries are sealed under it.
    raw(db_path, "UPDATE criterion_decisions SET comment = 'autre' WHERE review_id = 'r-open' AND comment = 'à voir'",
        unprotected=True)  # fmt: skip
    raw(db_path, "UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    store = ReviewStore(url)
    try:
        problems = store.verify()
        assert any("r-open" in p and "modifiée hors de l'outil" in p for p in problems)
        assert any(p.startswith("Entrée 2 du journal") for p in problems)
    finally:
        store.dispose()


def test_a_key_file_readable_by_others_is_still_used_but_created_private(tmp_path: Path) -> None:
    key = AuditKey.load_or_create(tmp_path / "sub" / "audit.key")
    assert stat.S_IMODE((tmp_path / "sub" / "audit.key").stat().st_mode) == 0o600
    (tmp_path / "sub" / "audit.key").chmod(0o644)
    assert AuditKey.load_or_create(tmp_path / "sub" / "audit.key").key_id == key.key_id
