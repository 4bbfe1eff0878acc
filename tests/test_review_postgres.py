"""The review database on a real PostgreSQL server, started by the test in a temporary folder.

Skipped, with the reason, when PostgreSQL (initdb, pg_ctl) or psycopg is not installed.
PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` account.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from assessor.results import Report
from assessor.review.audit import AuditKey
from assessor.review.domain import (
    BlockVerdict,
    ConflictError,
    ReadOnlyReview,
    ReviewStatus,
    Role,
    User,
)
from assessor.review.store import ReviewStore, head_revision
from reviewdata import decide_block_criteria, model_report, race
from servers import free_port

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'assessor[postgres]')")

JURY = User(username="jury1", display_name="Dupont Marie", role=Role.JURY)
KEY = AuditKey.from_text("clé-d-audit-des-tests-postgresql-0123456789", "tests")
JURY2 = User(username="jury2", display_name="Durand Luc", role=Role.JURY)
SUPERUSER = "assessor"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = [p for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}") if p.parts[-3].isdigit()]
    return str(max(versions, key=lambda p: int(p.parts[-3]))) if versions else None


@dataclass
class Server:
    port: int
    databases: int = 0

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True)

    def new_database(self) -> str:
        """A fresh, empty database per test, so each one starts from an unmigrated schema."""
        self.databases += 1
        name = f"review_{self.databases}"
        with self.admin() as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"


def _run_as(account: str | None) -> list[str]:
    return ["runuser", "-u", account, "--"] if account else []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (initdb/pg_ctl not on PATH nor in /usr/lib/postgresql/*/bin)")
    account = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' account to run PostgreSQL")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser to start PostgreSQL as 'postgres'")
        account = "postgres"
        # pytest's tmp folders are private to root: use a folder the postgres account may enter.
        base = Path(tempfile.mkdtemp(prefix="assessor-pg-"))
        os.chown(base, owner.pw_uid, owner.pw_gid)
    else:
        base = tmp_path_factory.mktemp("pg")
    data, log = base / "data", base / "server.log"
    port = free_port()
    prefix = _run_as(account)
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale", "-N"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=Europe/Paris"
    started = subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        message = log.read_text(errors="replace") if log.exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {message[-2000:]}")
    try:
        yield Server(port)
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The fake model's report of the sample dossier: verified citations and raw model outputs."""
    return model_report(tmp_path_factory.mktemp("reviewdata"))


@pytest.fixture
def url(server: Server) -> str:
    return server.new_database()


@pytest.fixture
def store(url: str) -> Iterator[ReviewStore]:
    review_store = ReviewStore(url, audit_key=KEY)
    yield review_store
    review_store.dispose()


def _raw(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def test_migrates_to_head_and_reopening_is_a_no_op(url: str, report: Report) -> None:
    first = ReviewStore(url, audit_key=KEY)
    state = first.create_review(report, user=JURY, candidate="Candidat 042")
    first.dispose()
    second = ReviewStore(url, audit_key=KEY)
    try:
        assert second.get(state.summary.id, JURY) == state
    finally:
        second.dispose()
    with _raw(url) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        triggers = {row[0] for row in raw.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    expected = {
        f"{table}_append_only" for table in ("audit_log", "criterion_decisions", "block_decisions", "signatures")
    }
    assert expected | {"audit_log_chain", "reviews_fixed", "audit_log_no_truncate"} <= triggers


def test_database_refuses_to_rewrite_the_audit_log(store: ReviewStore, url: str, report: Report) -> None:
    state = store.create_review(report, user=JURY, candidate="Candidat 042")
    state = store.decide_criterion(
        state.summary.id, JURY, report.criteria[0].criterion_id, expected_version=1, accept=True
    )
    statements = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log SELECT * FROM audit_log WHERE id = 1 ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
        "UPDATE reviews SET report = '{}'",
        "DELETE FROM reviews",
        "UPDATE criterion_decisions SET outcome = 'non_acquis'",
        "DELETE FROM criterion_decisions",
        "INSERT INTO criterion_decisions SELECT * FROM criterion_decisions "
        "ON CONFLICT (review_id, criterion_id, audit_id) DO UPDATE SET outcome = 'non_acquis'",
        "TRUNCATE criterion_decisions",
    ]
    with _raw(url) as raw:
        for statement in statements:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"ajout seul|journal|revue"):
                raw.execute(statement)
    assert len(store.audit_log()) == 2 + len(report.criteria)
    assert store.verify() == []

    with _raw(url) as raw:
        for table in ("audit_log", "criterion_decisions"):
            raw.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
        raw.execute("UPDATE criterion_decisions SET outcome = 'non_acquis'")
    problems = store.verify()
    assert len(problems) == 2 and problems[0].startswith("Entrée 3 du journal (proposition de la machine")
    assert "modifiée hors de l'outil" in problems[1] and "non_acquis" in problems[1]


def test_stale_and_racing_writers_conflict(url: str, report: Report) -> None:
    stores = [ReviewStore(url, audit_key=KEY), ReviewStore(url, audit_key=KEY)]
    try:
        state = stores[0].create_review(report, user=JURY, candidate="Candidat 042", assigned_jury=["jury2"])
        review = state.summary.id
        stores[1].decide_criterion(review, JURY2, report.criteria[0].criterion_id, expected_version=1, accept=True)
        with pytest.raises(ConflictError) as caught:
            stores[0].decide_criterion(review, JURY, report.criteria[1].criterion_id, expected_version=1, accept=True)
        assert caught.value.current.version == 2

        crits = [c.criterion_id for c in report.criteria[2:4]]
        assert race(stores, review, JURY, crits, expected_version=2) == ["conflict", "ok"]
        assert stores[0].get(review, JURY).version == 3
        assert stores[0].verify() == []
    finally:
        for review_store in stores:
            review_store.dispose()


def test_full_review_flow(store: ReviewStore, url: str, report: Report) -> None:
    crit = [c.criterion_id for c in report.criteria]
    state = store.create_review(report, user=JURY, candidate="Candidat 042", assigned_jury=["jury2"])
    review = state.summary.id
    state = store.decide_criterion(review, JURY, crit[0], expected_version=1, accept=True)
    state = store.decide_criterion(
        review, JURY2, crit[1], expected_version=2, accept=False, outcome="non_acquis", reason="Hors sujet."
    )
    state = store.comment_criterion(review, JURY, crit[1], expected_version=3, comment="À l'oral.")
    state = decide_block_criteria(store, state, JURY)
    state = store.decide_block(
        review, JURY, "B1", expected_version=state.version, verdict=BlockVerdict.VALIDATED, justification="Complet."
    )
    state = store.sign(review, JURY2, expected_version=state.version, signer_name="Luc Durand")
    assert state.summary.status is ReviewStatus.SIGNED and state.summary.signed_at is not None
    assert state.summary.signed_at.tzinfo is UTC and state.decisions[crit[1]].comment == "À l'oral."
    with pytest.raises(ReadOnlyReview):
        store.comment_criterion(review, JURY, crit[2], expected_version=state.version, comment="x")

    revision = store.new_revision(review, JURY, reason="Erreur sur C1.")
    assert revision.summary.parent_id == review and revision.decisions == state.decisions
    assert store.get(review, JURY).summary.status is ReviewStatus.SUPERSEDED
    store.record("jury1", "export", review_id=review, details={"format": "pdf"})

    log = store.audit_log(review)
    assert log[1].details["attempts"][0]["raw_output"] == report.criteria[0].attempt_log[0].raw_output
    assert [e.action for e in log if e.action != "proposal" and e.criterion_id in (None, *crit[:2])] == [
        "review_created",
        "criterion_accepted",
        "criterion_overridden",
        "criterion_commented",
        "block_remaining_accepted",
        "block_decided",
        "review_signed",
        "review_superseded",
        "export",
    ]
    assert all(entry.at.tzinfo is UTC for entry in log)
    assert store.verify() == []

    store.dispose()
    reopened = ReviewStore(url, audit_key=KEY)
    try:
        assert reopened.get(revision.summary.id, JURY) == revision
        assert reopened.verify() == []
    finally:
        reopened.dispose()
