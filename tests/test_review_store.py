"""The review database on real SQLite files, with real reports of the omnicanal sample dossier."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Mode, Report
from assessor.review import migrations
from assessor.review.audit import AuditKey
from assessor.review.domain import (
    BlockVerdict,
    ConflictError,
    CriterionAction,
    InvalidDecision,
    NotFound,
    PermissionDenied,
    ReadOnlyReview,
    ReviewError,
    ReviewState,
    ReviewStatus,
    Role,
    User,
)
from assessor.review.store import ReviewStore, alembic_config, head_revision
from reviewdata import decide_block_criteria, race, shared_report

JURY = User(username="jury1", display_name="Dupont Marie", role=Role.JURY)
JURY2 = User(username="jury2", display_name="Durand Luc", role=Role.JURY)
OTHER_JURY = User(username="jury3", display_name="Petit Anne", role=Role.JURY)
TRAINER = User(username="form1", display_name="Martin Paul", role=Role.TRAINER, candidates=["cand1"])
OTHER_TRAINER = User(username="form2", display_name="Leroy Eva", role=Role.TRAINER, candidates=["cand2"])
CANDIDATE = User(username="cand1", display_name="Bernard Léa", role=Role.CANDIDATE)
OTHER_CANDIDATE = User(username="cand2", display_name="Moreau Tom", role=Role.CANDIDATE)
ADMIN = User(username="admin", display_name="Admin", role=Role.ADMIN)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """Built once: evidence-only in the three modes, and the fake model's (raw outputs, verified citations)."""
    return {
        "evidence": shared_report("evidence"),
        "model": shared_report("model"),
        "trainer": shared_report("evidence", Mode.TRAINER),
        "candidate": shared_report("evidence", Mode.CANDIDATE),
    }


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'assessor.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[ReviewStore]:
    review_store = ReviewStore(db_url)
    yield review_store
    review_store.dispose()


def verdict_criterion(report: Report) -> CriterionResult:
    return next(c for c in report.criteria if c.outcome != EVIDENCE_TO_EXAMINE)


def to_examine(report: Report) -> CriterionResult:
    return next(c for c in report.criteria if c.outcome == EVIDENCE_TO_EXAMINE)


def jury_review(store: ReviewStore, report: Report, **kwargs: Any) -> ReviewState:
    return store.create_review(report, user=JURY, candidate="Candidat 042", assigned_jury=["jury2"], **kwargs)


def signed(store: ReviewStore, report: Report) -> ReviewState:
    state = jury_review(store, report)
    crit = verdict_criterion(report).criterion_id
    state = store.decide_criterion(state.summary.id, JURY, crit, expected_version=state.version, accept=True)
    state = decide_block_criteria(store, state, JURY)
    state = store.decide_block(
        state.summary.id, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="ok"
    )
    return store.sign(state.summary.id, JURY, expected_version=state.version, signer_name="Marie Dupont")


def actions(store: ReviewStore, review_id: str) -> list[str]:
    return [entry.action for entry in store.audit_log(review_id)]


# -- creating, reading, listing ----------------------------------------------------------------


def test_create_get_and_list(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["evidence"]
    state = jury_review(store, report, candidate_username="cand9")
    summary = state.summary
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", summary.id)
    assert (summary.status, summary.revision, state.version) == (ReviewStatus.IN_REVIEW, 1, 1)
    assert (summary.candidate, summary.candidate_username, summary.created_by) == ("Candidat 042", "cand9", "jury1")
    assert (summary.referential_id, summary.blocks, summary.mode) == ("dev-commercial-omnicanal", ["B1"], "jury")
    assert summary.assigned_jury == ["jury2"] and summary.model == report.model
    assert summary.created_at.tzinfo is UTC and summary.updated_at == summary.created_at
    assert state.report == report  # stored whole
    assert state.decisions == {} and state.block_decisions == {}

    again = store.get(summary.id, JURY2)
    assert again.summary == summary and again.report == report

    other = jury_review(store, report)
    assert [s.id for s in store.list_reviews(JURY)] == [other.summary.id, summary.id]  # newest first
    store.comment_criterion(summary.id, JURY, report.criteria[0].criterion_id, expected_version=1, comment="vu")
    assert [s.id for s in store.list_reviews(JURY)] == [summary.id, other.summary.id]  # newest updated first


def test_unknown_review_and_criterion_are_not_found(store: ReviewStore, reports: dict[str, Report]) -> None:
    with pytest.raises(NotFound, match="Aucune revue"):
        store.get("nope", JURY)
    state = jury_review(store, reports["evidence"])
    with pytest.raises(NotFound, match="critère"):
        store.decide_criterion(state.summary.id, JURY, "x/B9/C9/9", expected_version=1, accept=True)


def test_create_validates_candidate_and_jury(store: ReviewStore, reports: dict[str, Report]) -> None:
    with pytest.raises(InvalidDecision, match="nom ou la référence du candidat"):
        store.create_review(reports["evidence"], user=JURY, candidate="  ")
    with pytest.raises(InvalidDecision, match="mode jury"):
        store.create_review(reports["trainer"], user=TRAINER, candidate="Léa", assigned_jury=["jury2"])
    state = store.create_review(reports["evidence"], user=JURY, candidate="X", assigned_jury=[" jury2", "jury2", ""])
    assert state.summary.assigned_jury == ["jury2"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "Adresse de la base de revue invalide"),
        ("mysql://u:secret@localhost/db", "SQLite ou PostgreSQL"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/db", "Impossible d'ouvrir la base de revue"),
    ],
)
def test_bad_database_urls_give_french_messages(url: str, message: str) -> None:
    with pytest.raises(ReviewError, match=message) as caught:
        ReviewStore(url, audit_key=AuditKey.ephemeral())
    assert "secret" not in str(caught.value)


def test_in_memory_database_works_for_quick_trials(reports: dict[str, Report]) -> None:
    store = ReviewStore("sqlite://")
    try:
        state = jury_review(store, reports["evidence"])
        assert store.get(state.summary.id, JURY) == state and store.verify() == []
    finally:
        store.dispose()


def test_restart_keeps_everything(db_url: str, reports: dict[str, Report]) -> None:
    first = ReviewStore(db_url)
    state = signed(first, reports["model"])
    log = first.audit_log()
    first.dispose()

    second = ReviewStore(db_url)
    try:
        again = second.get(state.summary.id, JURY)
        assert again == state
        assert again.summary.signed_at is not None and again.summary.signed_at.tzinfo is UTC
        assert second.audit_log() == log
        assert second.verify() == []
    finally:
        second.dispose()


# -- criterion decisions -----------------------------------------------------------------------


def test_accept_takes_the_proposals_outcome(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["model"]
    crit = report.criteria[0]
    state = jury_review(store, report)
    state = store.decide_criterion(
        state.summary.id, JURY, crit.criterion_id, expected_version=1, accept=True, comment="  bien  "
    )
    decision = state.decisions[crit.criterion_id]
    assert (decision.action, decision.outcome, decision.comment) == (CriterionAction.ACCEPTED, "acquis", "bien")
    assert decision.decided_by == "jury1" and decision.decided_at is not None and decision.decided_at.tzinfo is UTC
    assert state.version == 2 and state.final_outcome(crit.criterion_id) == "acquis"
    with pytest.raises(InvalidDecision, match="modifiez la décision avec un motif"):
        store.decide_criterion(
            state.summary.id, JURY, crit.criterion_id, expected_version=2, accept=True, outcome="non_acquis"
        )


def test_evidence_to_examine_cannot_be_accepted(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["evidence"]
    state = jury_review(store, report)
    crit = to_examine(report).criterion_id
    with pytest.raises(InvalidDecision, match="pas une décision"):
        store.decide_criterion(state.summary.id, JURY, crit, expected_version=1, accept=True)
    state = store.decide_criterion(
        state.summary.id, JURY, crit, expected_version=1, accept=False, outcome="acquis", reason="Lu : probant."
    )
    assert state.decisions[crit].action is CriterionAction.OVERRIDDEN and state.final_outcome(crit) == "acquis"
    # A non-verdict proposal that is still a decision the jury can adopt:
    insufficient = verdict_criterion(report)
    assert insufficient.outcome == "preuves_insuffisantes"
    state = store.decide_criterion(state.summary.id, JURY, insufficient.criterion_id, expected_version=2, accept=True)
    assert state.final_outcome(insufficient.criterion_id) == "preuves_insuffisantes"


@pytest.mark.parametrize(
    ("outcome", "reason", "message"),
    [
        ("acquis", "", "motif"),
        ("acquis", "   ", "motif"),
        (EVIDENCE_TO_EXAMINE, "raison", "Choisissez l'issue"),
        ("excellent", "raison", "Choisissez l'issue"),
        (None, "raison", "Choisissez l'issue"),
    ],
)
def test_override_needs_a_verdict_and_a_reason(
    store: ReviewStore, reports: dict[str, Report], outcome: str | None, reason: str, message: str
) -> None:
    state = jury_review(store, reports["model"])
    crit = reports["model"].criteria[0].criterion_id
    with pytest.raises(InvalidDecision, match=message):
        store.decide_criterion(
            state.summary.id, JURY, crit, expected_version=1, accept=False, outcome=outcome, reason=reason
        )
    assert store.get(state.summary.id, JURY).version == 1  # nothing written


def test_override_then_comment_keeps_the_decision(store: ReviewStore, reports: dict[str, Report]) -> None:
    state = jury_review(store, reports["model"])
    review, crit = state.summary.id, reports["model"].criteria[0].criterion_id
    state = store.comment_criterion(review, JURY, crit, expected_version=1, comment="à relire")
    assert state.decisions[crit].action is None and state.final_outcome(crit) is None
    state = store.decide_criterion(
        review, JURY, crit, expected_version=2, accept=False, outcome="non_acquis", reason="Citation hors sujet."
    )
    decision = state.decisions[crit]
    assert (decision.outcome, decision.reason, decision.comment) == ("non_acquis", "Citation hors sujet.", "à relire")
    state = store.comment_criterion(review, JURY, crit, expected_version=3, comment="relu")
    assert state.decisions[crit].outcome == "non_acquis" and state.decisions[crit].comment == "relu"
    state = store.decide_criterion(review, JURY, crit, expected_version=4, accept=True, comment="")
    assert state.decisions[crit].action is CriterionAction.ACCEPTED and state.decisions[crit].comment == ""


# -- blocks, signing, revisions ----------------------------------------------------------------


def test_block_decisions(store: ReviewStore, reports: dict[str, Report]) -> None:
    state = jury_review(store, reports["evidence"])
    review = state.summary.id
    with pytest.raises(InvalidDecision, match="B7"):
        store.decide_block(review, JURY, "B7", expected_version=1, verdict=BlockVerdict.VALIDATED, justification="x")
    state = decide_block_criteria(store, state, JURY)
    v = state.version
    with pytest.raises(InvalidDecision, match="Justifiez"):
        store.decide_block(review, JURY, "B1", expected_version=v, verdict=BlockVerdict.VALIDATED, justification=" ")
    state = store.decide_block(
        review, JURY2, "B1", expected_version=v, verdict=BlockVerdict.NOT_VALIDATED, justification="Preuves minces."
    )
    block = state.block_decisions["B1"]
    assert (block.verdict, block.justification, block.decided_by) == (
        BlockVerdict.NOT_VALIDATED,
        "Preuves minces.",
        "jury2",
    )
    state = store.decide_block(
        review, JURY, "B1", expected_version=v + 1, verdict=BlockVerdict.VALIDATED, justification="Après oral."
    )
    assert state.block_decisions["B1"].verdict is BlockVerdict.VALIDATED and state.version == v + 2


def test_sign_requires_every_block_and_a_name(store: ReviewStore, reports: dict[str, Report]) -> None:
    state = jury_review(store, reports["evidence"])
    review = state.summary.id
    with pytest.raises(InvalidDecision, match="sans décision : B1"):
        store.sign(review, JURY, expected_version=1, signer_name="Marie Dupont")
    state = decide_block_criteria(store, state, JURY)
    state = store.decide_block(
        review, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="Complet."
    )
    with pytest.raises(InvalidDecision, match="nom"):
        store.sign(review, JURY, expected_version=state.version, signer_name="  ")
    state = store.sign(review, JURY2, expected_version=state.version, signer_name=" Luc Durand ")
    summary = state.summary
    assert (summary.status, summary.signed_by, summary.signed_by_name) == (ReviewStatus.SIGNED, "jury2", "Luc Durand")
    assert summary.signed_at is not None and summary.signed_at.tzinfo is UTC and state.read_only
    assert all(state.final_outcome(c.criterion_id) for c in reports["evidence"].criteria)


def test_signed_review_is_read_only(store: ReviewStore, reports: dict[str, Report]) -> None:
    state = signed(store, reports["model"])
    review, version, crit = state.summary.id, state.version, reports["model"].criteria[1].criterion_id
    changes: list[Callable[[], object]] = [
        lambda: store.decide_criterion(review, JURY, crit, expected_version=version, accept=True),
        lambda: store.comment_criterion(review, JURY, crit, expected_version=version, comment="x"),
        lambda: store.decide_block(
            review, JURY, "B1", expected_version=version, verdict=BlockVerdict.NOT_VALIDATED, justification="x"
        ),
        lambda: store.sign(review, JURY, expected_version=version, signer_name="Marie Dupont"),
    ]
    for change in changes:
        with pytest.raises(ReadOnlyReview, match="Cette revue est signée : créez une nouvelle révision"):
            change()
    assert store.get(review, JURY) == state


def test_new_revision_copies_decisions_and_supersedes_the_signed_one(
    store: ReviewStore, reports: dict[str, Report]
) -> None:
    report = reports["model"]
    old = jury_review(store, report)
    with pytest.raises(InvalidDecision, match="pas signée"):
        store.new_revision(old.summary.id, JURY, reason="x")
    old = signed(store, report)
    with pytest.raises(InvalidDecision, match="motif"):
        store.new_revision(old.summary.id, JURY, reason=" ")
    with pytest.raises(PermissionDenied):
        store.new_revision(old.summary.id, OTHER_JURY, reason="Erreur de saisie.")

    new = store.new_revision(old.summary.id, JURY2, reason="Erreur de saisie sur C1.")
    assert (new.summary.revision, new.summary.parent_id, new.summary.status) == (
        2,
        old.summary.id,
        ReviewStatus.IN_REVIEW,
    )
    assert new.summary.id != old.summary.id and new.version == 1
    assert (
        new.summary.signed_by is None and new.summary.created_by == "jury1" and new.summary.assigned_jury == ["jury2"]
    )
    assert new.report == report and new.decisions == old.decisions and new.block_decisions == old.block_decisions

    superseded = store.get(old.summary.id, JURY)
    assert superseded.summary.status is ReviewStatus.SUPERSEDED and superseded.read_only
    assert superseded.summary.signed_by_name == "Marie Dupont"  # the signature stays visible
    assert {s.id for s in store.list_reviews(JURY)} >= {old.summary.id, new.summary.id}
    with pytest.raises(ReadOnlyReview, match="remplacée"):
        store.comment_criterion(old.summary.id, JURY, report.criteria[0].criterion_id, expected_version=5, comment="x")
    with pytest.raises(InvalidDecision, match="remplacée"):
        store.new_revision(old.summary.id, JURY, reason="encore")

    # The copy can be changed, and signed again.
    crit = report.criteria[0].criterion_id
    new = store.decide_criterion(
        new.summary.id, JURY, crit, expected_version=1, accept=False, outcome="partiellement_acquis", reason="Revu."
    )
    assert store.get(old.summary.id, JURY).final_outcome(crit) == "acquis"
    assert new.final_outcome(crit) == "partiellement_acquis"
    new = store.sign(new.summary.id, JURY, expected_version=2, signer_name="Marie Dupont")
    assert new.summary.status is ReviewStatus.SIGNED

    assert actions(store, old.summary.id)[-1] == "review_superseded"
    created = store.audit_log(new.summary.id)[0]
    assert created.action == "revision_created" and created.actor == "jury2"
    assert created.details["parent_id"] == old.summary.id and created.details["reason"] == "Erreur de saisie sur C1."


# -- permissions -------------------------------------------------------------------------------


def test_jury_sees_only_their_own_and_assigned_reviews(store: ReviewStore, reports: dict[str, Report]) -> None:
    state = jury_review(store, reports["evidence"])
    review = state.summary.id
    assert [s.id for s in store.list_reviews(JURY2)] == [review]
    assert store.list_reviews(OTHER_JURY) == []
    with pytest.raises(PermissionDenied, match="pas accès"):
        store.get(review, OTHER_JURY)
    with pytest.raises(PermissionDenied, match="pas accès"):
        store.comment_criterion(
            review, OTHER_JURY, reports["evidence"].criteria[0].criterion_id, expected_version=1, comment="x"
        )
    with pytest.raises(PermissionDenied, match="pré-lecture pour le jury"):
        store.create_review(reports["trainer"], user=JURY, candidate="X")


def test_admin_sees_everything_and_changes_nothing(store: ReviewStore, reports: dict[str, Report]) -> None:
    jury_state = jury_review(store, reports["evidence"])
    trainer_state = store.create_review(reports["trainer"], user=TRAINER, candidate="Léa", candidate_username="cand1")
    assert {s.id for s in store.list_reviews(ADMIN)} == {jury_state.summary.id, trainer_state.summary.id}
    assert store.get(jury_state.summary.id, ADMIN).summary.id == jury_state.summary.id
    crit = reports["evidence"].criteria[0].criterion_id
    review = jury_state.summary.id
    refused: list[Callable[[], object]] = [
        lambda: store.create_review(reports["evidence"], user=ADMIN, candidate="X"),
        lambda: store.comment_criterion(review, ADMIN, crit, expected_version=1, comment="x"),
        lambda: store.decide_criterion(
            review, ADMIN, crit, expected_version=1, accept=False, outcome="acquis", reason="r"
        ),
        lambda: store.decide_block(
            review, ADMIN, "B1", expected_version=1, verdict=BlockVerdict.VALIDATED, justification="x"
        ),
        lambda: store.sign(review, ADMIN, expected_version=1, signer_name="Admin"),
    ]
    for change in refused:
        with pytest.raises(PermissionDenied, match="administrateur"):
            change()
    assert store.get(review, ADMIN).version == 1


def test_trainer_reviews_of_their_candidates(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["trainer"]
    with pytest.raises(PermissionDenied, match="formateur"):
        store.create_review(reports["evidence"], user=TRAINER, candidate="X")
    mine = store.create_review(report, user=TRAINER, candidate="Léa", candidate_username="cand1")
    # Made by another trainer, for my candidate: visible; for theirs: not.
    for_my_candidate = store.create_review(report, user=OTHER_TRAINER, candidate="Léa", candidate_username="cand1")
    theirs = store.create_review(report, user=OTHER_TRAINER, candidate="Tom", candidate_username="cand2")
    assert {s.id for s in store.list_reviews(TRAINER)} == {mine.summary.id, for_my_candidate.summary.id}
    with pytest.raises(PermissionDenied):
        store.get(theirs.summary.id, TRAINER)
    assert store.list_reviews(JURY) == [] and store.list_reviews(CANDIDATE) == []

    review, crit = mine.summary.id, verdict_criterion(report).criterion_id
    state = store.decide_criterion(review, TRAINER, crit, expected_version=1, accept=True)
    state = store.decide_criterion(
        review, TRAINER, crit, expected_version=2, accept=False, outcome="acquis", reason="r"
    )
    state = store.comment_criterion(review, TRAINER, crit, expected_version=3, comment="Ajoutez une preuve.")
    assert state.decisions[crit].comment == "Ajoutez une preuve."
    with pytest.raises(PermissionDenied, match="Seul un membre du jury peut statuer sur un bloc"):
        store.decide_block(review, TRAINER, "B1", expected_version=4, verdict=BlockVerdict.VALIDATED, justification="x")
    with pytest.raises(PermissionDenied, match="Seul un membre du jury peut signer"):
        store.sign(review, TRAINER, expected_version=4, signer_name="Paul Martin")


def test_candidate_sees_only_their_self_checks_and_may_only_comment(
    store: ReviewStore, reports: dict[str, Report]
) -> None:
    report = reports["candidate"]
    with pytest.raises(PermissionDenied, match="candidat"):
        store.create_review(reports["evidence"], user=CANDIDATE, candidate="Moi")
    own = store.create_review(report, user=CANDIDATE, candidate="", candidate_username="cand2")
    assert own.summary.candidate_username == "cand1" and own.summary.candidate == "Bernard Léa"  # forced to themselves
    other = store.create_review(report, user=OTHER_CANDIDATE, candidate="Tom")
    assert [s.id for s in store.list_reviews(CANDIDATE)] == [own.summary.id]
    with pytest.raises(PermissionDenied):
        store.get(other.summary.id, CANDIDATE)
    assert store.list_reviews(TRAINER) == [] and store.list_reviews(JURY) == []

    review, crit = own.summary.id, verdict_criterion(report).criterion_id
    with pytest.raises(PermissionDenied, match="notes"):
        store.decide_criterion(review, CANDIDATE, crit, expected_version=1, accept=True)
    state = store.comment_criterion(review, CANDIDATE, crit, expected_version=1, comment="Je joindrai l'annexe 3.")
    assert state.decisions[crit].comment == "Je joindrai l'annexe 3." and state.decisions[crit].action is None


# -- optimistic locking --------------------------------------------------------------------------


def test_stale_version_is_a_conflict_and_writes_nothing(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["model"]
    state = jury_review(store, report)
    review, first, second = state.summary.id, report.criteria[0].criterion_id, report.criteria[1].criterion_id
    store.decide_criterion(review, JURY2, first, expected_version=1, accept=True)
    log_size = len(store.audit_log())
    with pytest.raises(ConflictError, match="modifiée par quelqu'un d'autre") as caught:
        store.decide_criterion(review, JURY, second, expected_version=1, accept=True)
    current = caught.value.current
    assert current.version == 2 and set(current.decisions) == {first}
    with pytest.raises(ConflictError):
        store.decide_block(review, JURY, "B1", expected_version=1, verdict=BlockVerdict.VALIDATED, justification="x")
    with pytest.raises(ConflictError):
        store.sign(review, JURY, expected_version=5, signer_name="x")  # from the future: also refused
    assert store.get(review, JURY) == current and len(store.audit_log()) == log_size


def test_two_writers_racing_on_the_same_version(db_url: str, reports: dict[str, Report]) -> None:
    """Two store instances (two processes, in effect) save against the same version: exactly one wins."""
    report = reports["model"]
    stores = [ReviewStore(db_url), ReviewStore(db_url)]
    try:
        for round_number in range(4):
            state = jury_review(stores[0], report)
            crits = [c.criterion_id for c in report.criteria[:2]]
            outcomes = race(stores, state.summary.id, JURY, crits, expected_version=1)
            assert outcomes == ["conflict", "ok"], f"round {round_number}"
            final = stores[1].get(state.summary.id, JURY)
            assert final.version == 2 and len(final.decisions) == 1
        assert stores[0].verify() == []
    finally:
        for review_store in stores:
            review_store.dispose()


# -- audit log -------------------------------------------------------------------------------------


def test_creation_logs_every_proposal_with_the_raw_model_output(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["model"]
    state = jury_review(store, report)
    log = store.audit_log(state.summary.id)
    assert [e.action for e in log] == ["review_created"] + ["proposal"] * len(report.criteria)
    created = log[0]
    assert created.actor == "jury1" and created.details["dossier"]["id"] == "omni"
    assert re.fullmatch(r"[0-9a-f]{64}", created.details["report_sha256"])
    for entry, result in zip(log[1:], report.criteria, strict=True):
        assert entry.actor == "machine:fake:quoting" and entry.criterion_id == result.criterion_id
        details = entry.details
        assert details["model"] == result.model and details["prompt_version"] == result.prompt_version
        assert details["evidence_ids"] == result.evidence_ids and details["evidence_ids"]
        assert (details["outcome"], details["status"]) == (result.outcome, result.status.value)
        assert details["flags"] == [f.value for f in result.flags]
        assert details["citations"][0]["verified"] is True and details["citations"][0]["verification"]
        attempts = details["attempts"]
        assert attempts and attempts[0]["raw_output"] == result.attempt_log[0].raw_output
        assert '"outcome": "acquis"' in attempts[0]["raw_output"] and attempts[0]["input_tokens"] > 0
    assert all(e.at.tzinfo is UTC for e in log)


def test_every_human_action_is_logged_with_before_and_after(store: ReviewStore, reports: dict[str, Report]) -> None:
    report = reports["model"]
    crit = report.criteria[0].criterion_id
    state = jury_review(store, report)
    review = state.summary.id
    store.decide_criterion(review, JURY, crit, expected_version=1, accept=True)
    store.decide_criterion(
        review, JURY2, crit, expected_version=2, accept=False, outcome="non_acquis", reason="Faible."
    )
    state = store.comment_criterion(review, JURY, crit, expected_version=3, comment="Vu en oral.")
    state = decide_block_criteria(store, state, JURY2)
    store.decide_block(
        review, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="Ok."
    )
    store.sign(review, JURY, expected_version=state.version + 1, signer_name="Marie Dupont")
    entry = store.record("jury1", "export", review_id=review, details={"format": "pdf"})
    assert entry.action == "export" and entry.details == {"format": "pdf"}

    human = [
        e
        for e in store.audit_log(review)
        if e.action not in {"review_created", "proposal"} and e.criterion_id in (None, crit)
    ]
    assert [(e.actor, e.action) for e in human] == [
        ("jury1", "criterion_accepted"),
        ("jury2", "criterion_overridden"),
        ("jury1", "criterion_commented"),
        ("jury2", "block_remaining_accepted"),
        ("jury1", "block_decided"),
        ("jury1", "review_signed"),
        ("jury1", "export"),
    ]
    accepted, overridden, commented, bulk, block, signing, _ = human
    assert bulk.details["block"] == "B1" and crit not in [a["criterion_id"] for a in bulk.details["accepted"]]
    assert accepted.before is None and accepted.after is not None and accepted.after["outcome"] == "acquis"
    assert overridden.before == accepted.after
    assert overridden.after is not None and overridden.after["reason"] == "Faible."
    assert commented.after is not None and commented.after["comment"] == "Vu en oral."
    assert commented.after["outcome"] == "non_acquis" and commented.criterion_id == crit
    assert block.after is not None and block.after["verdict"] == "valide" and block.details["block"] == "B1"
    assert signing.before == {"status": "en_cours"}
    assert signing.after is not None and signing.after["signed_by_name"] == "Marie Dupont"
    assert signing.details["decisions"][crit] == "non_acquis" and len(signing.details["decisions"]) == len(
        report.criteria
    )
    assert store.verify() == []


def test_app_events_join_the_chain(store: ReviewStore) -> None:
    store.record("inconnu:mallory", "login_failed")
    entry = store.record("jury1", "login")
    assert [e.action for e in store.audit_log()] == ["login_failed", "login"]
    assert entry.id == 2 and entry.review_id is None and entry.at.tzinfo is UTC
    assert store.audit_log()[-1] == entry
    assert store.verify() == []


def _raw(db_url: str) -> sqlite3.Connection:
    return sqlite3.connect(sa.make_url(db_url).database or "")


def test_database_refuses_to_update_or_delete_audit_entries(
    store: ReviewStore, db_url: str, reports: dict[str, Report]
) -> None:
    jury_review(store, reports["evidence"])
    with _raw(db_url) as raw:
        for statement in ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE id = 1"]:
            with pytest.raises(sqlite3.IntegrityError, match="ajout seul"):
                raw.execute(statement)
        with pytest.raises(sqlite3.IntegrityError, match="une revue ne se modifie pas"):
            raw.execute("UPDATE reviews SET report = '{}'")
    raw.close()
    assert store.audit_log()[0].actor == "jury1" and store.verify() == []


def test_chain_detects_tampering(store: ReviewStore, db_url: str, reports: dict[str, Report]) -> None:
    """Even with the protecting triggers dropped, a changed or deleted entry and a changed report show."""
    state = jury_review(store, reports["model"])
    store.decide_criterion(
        state.summary.id, JURY, reports["model"].criteria[0].criterion_id, expected_version=1, accept=True
    )
    assert store.verify() == []
    raw = _raw(db_url)
    with raw:
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute("UPDATE audit_log SET details = json_set(details, '$.outcome', 'non_acquis') WHERE id = 2")
    problems = store.verify()
    assert len(problems) == 1 and problems[0].startswith("Entrée 2 du journal (proposition de la machine")
    assert "modifié" in problems[0]

    with raw:
        raw.execute("DELETE FROM audit_log WHERE id = 5")
        raw.execute("UPDATE reviews SET report = replace(report, 'acquis', 'non_acquis')")
    problems = store.verify()
    assert any("Entrées 5 à 5 absentes" in p for p in problems)
    assert any("Entrée 6" in p and "lien" in p for p in problems)
    assert any(
        p.startswith(f"Revue {state.summary.id} : le rapport de la machine ne correspond plus") for p in problems
    )
    raw.close()


# -- migrations ------------------------------------------------------------------------------------


def _alembic_versions(db_url: str) -> list[str]:
    with _raw(db_url) as raw:
        rows = raw.execute("SELECT version_num FROM alembic_version").fetchall()
    raw.close()
    return [row[0] for row in rows]


def test_the_head_named_in_the_package_is_the_newest_migration() -> None:
    """``migrations.HEAD`` lets an up-to-date database open without Alembic: it must follow every new revision."""
    assert head_revision() == migrations.HEAD


def test_fresh_database_is_migrated_to_head_and_reopening_is_a_no_op(db_url: str, reports: dict[str, Report]) -> None:
    store = ReviewStore(db_url)
    assert Path(sa.make_url(db_url).database or "").is_file()  # parent folder created
    assert _alembic_versions(db_url) == [head_revision()] == ["0003_sessions"]
    state = jury_review(store, reports["evidence"])
    store.dispose()
    with _raw(db_url) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
    raw.close()
    assert {"reviews", "criterion_decisions", "block_decisions", "signatures", "audit_log", "audit_log_chain"} <= tables

    again = ReviewStore(db_url)
    try:
        assert _alembic_versions(db_url) == ["0003_sessions"]
        assert again.get(state.summary.id, JURY) == state
    finally:
        again.dispose()


def test_an_older_database_is_brought_up_to_date(db_url: str) -> None:
    ReviewStore(db_url).dispose()
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    engine.dispose()
    assert _alembic_versions(db_url) == []
    store = ReviewStore(db_url)
    try:
        assert _alembic_versions(db_url) == [head_revision()]
        assert store.audit_log() == [] and store.list_reviews(ADMIN) == []
    finally:
        store.dispose()


def test_foreign_keys_are_enforced(store: ReviewStore) -> None:
    with pytest.raises(sa.exc.IntegrityError), store._engine.begin() as connection:  # the store's own connections
        connection.execute(
            sa.text("INSERT INTO block_decisions VALUES ('ghost', 'B1', 1, 'valide', 'x', 'u', '2025-01-01')")
        )


def test_review_ids_never_read_as_command_line_options() -> None:
    from assessor.review.store import new_review_id

    assert all(new_review_id()[0].isalnum() for _ in range(2000))
