"""The review app without a browser: its screens' HTML, upload checks, roles and the run itself.

The whole flow in a real browser is ``test_app_browser.py``; these tests pin the rules the
screens rely on, on a real database, index and sample dossier.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from assessor.citations import verify_citations
from assessor.referential import CriterionLevel, Provenance
from assessor.results import CriterionResult
from assessor.review.auth import UsersFile
from assessor.review.domain import CriterionAction, CriterionDecision, ReviewState, ReviewSummary, Role, User
from assessor.settings import AppSettings, Settings
from assessor.webapp import views
from assessor.webapp.app import AppError, ReviewApp, build
from assessor.webapp.pages import render_page
from fakes import make_chunk
from reviewdata import SAMPLE, decide_block_criteria, evidence_report, model_report, referential

JURY = User(username="jmartin", display_name="Jeanne Martin", role=Role.JURY)


def _state(report_dir: Path, hostile: str = "") -> ReviewState:
    report = evidence_report(report_dir)
    if hostile:
        first = report.criteria[0]
        citation = first.citations[0].model_copy(update={"quote": hostile})
        report.criteria[0] = first.model_copy(update={"rationale": hostile, "citations": [citation]})
    summary = ReviewSummary.model_validate(
        {
            "id": "r1",
            "candidate": hostile or "Camille",
            "referential_id": report.referential.id,
            "referential_title": report.referential.title,
            "blocks": report.referential.blocks,
            "mode": "jury",
            "model": report.model,
            "status": "en_cours",
            "revision": 1,
            "created_by": "jmartin",
            "created_at": report.created_at,
            "updated_at": report.created_at,
        }
    )
    return ReviewState(summary=summary, version=1, report=report)


def test_dossier_text_is_always_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> texte du candidat'
    state = _state(tmp_path, hostile)
    ref = referential()
    result = state.report.criteria[0]
    criterion = next(c for c in ref.criteria if c.id == result.criterion_id)
    pages = [
        views.header_html(state, ref),
        views.grid_html(state, ref, result.criterion_id),
        views.criterion_html(state, criterion, result),
        views.citations_html(result, {}),
    ]
    for page in pages:
        assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in pages[0] and "&lt;script&gt;" in pages[2] and "&lt;script&gt;" in pages[3]


def test_next_criterion_to_examine_skips_decided_ones_and_wraps(tmp_path: Path) -> None:
    state = _state(tmp_path)
    ids = [r.criterion_id for r in state.report.criteria]
    assert views.next_attention(state, None) == ids[0]
    assert views.next_attention(state, ids[0]) == ids[1]
    state.decisions[ids[1]] = CriterionDecision(criterion_id=ids[1], action=CriterionAction.ACCEPTED, outcome="acquis")
    assert views.next_attention(state, ids[0]) == ids[2]  # decided: skipped
    assert views.next_attention(state, ids[-1]) == ids[0]  # wraps around
    for cid in ids:
        state.decisions[cid] = CriterionDecision(criterion_id=cid, action=CriterionAction.ACCEPTED, outcome="acquis")
    assert views.next_attention(state, ids[0]) is None
    grid = views.grid_html(state, referential(), ids[0])
    assert grid.count('data-attention="0"') == len(ids) and "Jury : Acquis" in grid


def test_a_model_run_shows_the_baseline_beside_the_proposal(tmp_path: Path) -> None:
    report = model_report(tmp_path)
    state = _state(tmp_path).model_copy(update={"report": report})
    result = report.criteria[0]
    criterion = next(c for c in referential().criteria if c.id == result.criterion_id)
    detail = views.criterion_html(state, criterion, result)
    assert "Repérage sans IA (pour comparaison)" in detail and "modèle fake:quoting" in detail


@pytest.fixture
def app(tmp_path: Path) -> ReviewApp:
    settings = Settings(data_dir=tmp_path / "data", app=AppSettings(max_upload_mb=1))
    users = UsersFile(settings.resolved_users_file)
    users.add("jmartin", "Jeanne Martin", "jury", "mot-de-passe-1")
    users.add("camille", "Camille Élève", "candidate", "mot-de-passe-2")
    return ReviewApp(settings)


def no_progress(done: int, total: int, label: str) -> None:
    return None


def test_uploads_are_checked_by_type_and_size(app: ReviewApp, tmp_path: Path) -> None:
    with pytest.raises(AppError, match="au moins un fichier"):
        app.check_uploads([], Role.JURY)
    script = tmp_path / "dossier.exe"
    script.write_bytes(b"MZ")
    with pytest.raises(AppError, match="Type de fichier refusé"):
        app.check_uploads([str(script)], Role.JURY)
    big = tmp_path / "gros.txt"
    big.write_bytes(b"a" * (1024 * 1024 + 1))
    with pytest.raises(AppError, match=r"trop volumineux.*limite 1 Mo.*ASSESSOR_APP__MAX_UPLOAD_MB"):
        app.check_uploads([str(big)], Role.JURY)
    assert app.check_uploads([str(SAMPLE)], Role.JURY) == [SAMPLE]


def test_the_workspace_runs_several_events_at_once(app: ReviewApp) -> None:
    """Gradio runs one event at a time by default: one jury member's model run would hold up everyone's clicks."""
    demo = build(app)
    assert demo._queue.default_concurrency_limit == 8


def test_a_run_creates_a_review_and_logs_every_proposal(app: ReviewApp) -> None:
    jury = app.users.get("jmartin")
    assert jury is not None
    seen: list[tuple[int, int]] = []
    state = app.run(
        jury, [str(SAMPLE)], "Camille Exemple", "dev-commercial-omnicanal", ["B1"], "jury", None, None, "",
        lambda done, total, label: seen.append((done, total)),
    )  # fmt: skip
    assert len(state.report.criteria) == 23 and state.report.evidence_only
    assert (23, 23) in seen  # the progress bar advanced per criterion up to the last one
    proposals = [e for e in app.store.audit_log(state.summary.id) if e.action == "proposal"]
    assert len(proposals) == 23
    with pytest.raises(AppError, match="mode"):
        app.run(jury, [str(SAMPLE)], "X", "dev-commercial-omnicanal", ["B1"], "candidate", None, None, "", no_progress)


def test_a_candidate_self_checks_without_seeing_anyone_else(app: ReviewApp) -> None:
    jury, candidate = app.users.get("jmartin"), app.users.get("camille")
    assert jury is not None and candidate is not None
    app.run(jury, [str(SAMPLE)], "Autre candidat", "dev-commercial-omnicanal", ["B1"], "jury", None, None, "",
            no_progress)  # fmt: skip
    mine = app.run(candidate, [str(SAMPLE)], "", "dev-commercial-omnicanal", ["B1"], None, None, None, "", no_progress)
    assert mine.summary.mode == "candidate" and mine.summary.candidate_username == "camille"
    assert [s.id for s in app.store.list_reviews(candidate)] == [mine.summary.id]
    assert "Traité dans le dossier" in mine.report.outcome_labels.values()  # coverage words, no grades


def test_login_attempts_are_audited(app: ReviewApp) -> None:
    assert app.authenticate("jmartin", "mot-de-passe-1")
    assert not app.authenticate("jmartin", "mauvais")
    actions = [(e.actor, e.action) for e in app.store.audit_log()]
    assert ("jmartin", "login") in actions and ("inconnu:jmartin", "login_failed") in actions


def test_a_signed_grid_exported_by_the_app_becomes_evaluation_labels(app: ReviewApp, tmp_path: Path) -> None:
    """The review app's CSV export is what ``assessor eval import`` reads: the two must agree."""
    from assessor.evaluation.datasets import DatasetError, import_review_grid
    from assessor.review.domain import BlockVerdict
    from assessor.review.exports import ExportFormat

    jury = app.users.get("jmartin")
    assert jury is not None
    state = app.run(
        jury, [str(SAMPLE)], "Camille Exemple", "dev-commercial-omnicanal", ["B1"], "jury", None, None, "", no_progress
    )
    first, second = (r.criterion_id for r in state.report.criteria[:2])
    store, rid = app.store, state.summary.id
    state = store.decide_criterion(
        rid, jury, first, expected_version=state.version, accept=False, outcome="acquis",
        reason="Sources variées et justifiées.", comment="Très bon tableau des sources.",
    )  # fmt: skip
    state = store.decide_criterion(
        rid, jury, second, expected_version=state.version, accept=False, outcome="non_acquis",
        reason="Aucun choix justifié.",
    )  # fmt: skip
    state = decide_block_criteria(store, state, jury)
    state = store.decide_block(
        rid, jury, "B1", expected_version=state.version, verdict=BlockVerdict.NOT_VALIDATED,
        justification="Critères essentiels non acquis.",
    )  # fmt: skip
    grid = app.export(jury, rid, ExportFormat.CSV)
    with pytest.raises(DatasetError, match="sign"):  # an unsigned grid is not a jury's decision yet
        import_review_grid(grid)
    store.sign(rid, jury, expected_version=state.version, signer_name="Jeanne Martin")
    grid = app.export(jury, rid, ExportFormat.CSV)
    imported = import_review_grid(grid, dossier_key="camille")
    labels = {c.criterion_id: c for entry in imported.entries for c in entry.criteria}
    assert labels[first].outcome == "acquis" and labels[first].comment == "Très bon tableau des sources."
    assert labels[second].outcome == "non_acquis"
    assert len(labels) == len(state.report.criteria)  # a signed grid: every criterion decided by the jury
    assert labels[first].outcome == "acquis" and labels[first].comment == "Très bon tableau des sources."


def test_the_app_refuses_to_start_without_accounts_on_a_public_address(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assessor.cli import app as cli

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "app", "--host", "0.0.0.0", "--port", "7999"])
    assert result.exit_code == 1
    assert "aucun compte" in result.stderr and "assessor users add" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_the_app_explains_a_review_database_it_cannot_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from assessor.cli import app as cli

    UsersFile(tmp_path / "users.yaml").add("jmartin", "Jeanne Martin", "jury", "mot-de-passe-1")
    monkeypatch.setenv("ASSESSOR_DATABASE_URL", "mysql://jury@127.0.0.1/revues")
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "app", "--port", "7999"])
    assert result.exit_code == 1
    assert "SQLite ou PostgreSQL" in " ".join(result.stderr.split()) and "Traceback" not in result.output


PAGE3 = SAMPLE
EXTRACTS = "je suis chargée de développement commercial […] je travaille au quotidien avec les six responsables"


def test_each_extract_of_a_verified_quote_is_highlighted_and_an_altered_quote_nowhere() -> None:
    passage = (
        "Depuis septembre 2024, je suis chargée de développement commercial en alternance au siège.\n"
        "Je suis rattachée à la directrice commerciale, et je travaille au quotidien avec les six responsables."
    )
    chunk = make_chunk("c-1", passage)
    cited = [("c-1", EXTRACTS), ("c-1", "je suis chargée de développement commercial sans alternance")]
    result = CriterionResult.model_construct(citations=verify_citations(cited, {"c-1": chunk}))
    html = views.citations_html(result, {"c-1": chunk})
    assert re.findall(r"<mark>(.*?)</mark>", html) == [
        "je suis chargée de développement commercial",
        "je travaille au quotidien avec les six responsables",
    ]
    assert "✗ NON VÉRIFIÉE" in html and "« en » là où la citation porte « sans »" in html


def _highlighted_pixels(quote: str | None, cache: Path) -> int:
    """How many pixels of page 3 the highlight of ``quote`` changes."""
    plain = Image.open(render_page(PAGE3, 3, None, cache)).convert("RGB")
    marked = Image.open(render_page(PAGE3, 3, quote, cache)).convert("RGB")
    return sum(ImageChops.difference(plain, marked).convert("L").histogram()[1:])


def test_the_page_highlights_each_extract_and_nothing_for_an_altered_quote(tmp_path: Path) -> None:
    first = _highlighted_pixels("je suis chargée de développement commercial", tmp_path)
    both = _highlighted_pixels(EXTRACTS, tmp_path)
    assert 0 < first < both
    assert _highlighted_pixels("je suis chargée de développement commercial sans alternance", tmp_path) == 0


def test_a_draft_referential_shows_where_each_criterion_was_read(tmp_path: Path) -> None:
    state = _state(tmp_path)
    ref = referential()
    result = state.report.criteria[0]
    criterion = next(c for c in ref.criteria if c.id == result.criterion_id)
    assert "Lu dans" not in views.criterion_html(state, criterion, result)
    assert "brouillon" not in views.header_html(state, ref)
    draft = ref.model_copy(update={"draft": True})
    read = criterion.model_copy(
        update={"provenance": Provenance(file="RC.pdf", page=8), "level": CriterionLevel.COMPETENCY}
    )
    detail = views.criterion_html(state, read, result)
    assert "Lu dans : RC.pdf, page 8" in detail and "évalué au niveau de la compétence" in detail
    assert "pas encore relu (brouillon)" in views.header_html(state, draft)


def test_the_screens_speak_to_people_not_in_codes(tmp_path: Path) -> None:
    """Issue 14, point 5: no raw mode or flag code, a name beside a username, « 1 bloc », no emoji."""
    state = _state(tmp_path)
    ref = referential()
    result = state.report.criteria[0]
    criterion = next(c for c in ref.criteria if c.id == result.criterion_id)
    state.decisions[criterion.id] = CriterionDecision(
        criterion_id=criterion.id, action=CriterionAction.ACCEPTED, outcome="acquis", decided_by="jmartin"
    )
    header = views.header_html(state, ref)
    detail = views.criterion_html(state, criterion, result, {"jmartin": "Jeanne Martin"})
    grid = views.grid_html(state, ref, criterion.id)
    assert "<b>Mode</b> pré-lecture pour le jury" in header
    assert f"bloc {state.summary.blocks[0]})" in header and "blocs" not in header  # one block
    assert " · Jeanne Martin (jmartin)" in detail
    assert f'title="{criterion.id}">{criterion.block} › {criterion.set_key} › critère {criterion.number}' in detail
    # Every mark is a character of the fonts a bare Linux machine has (an emoji shows as an empty box).
    assert not [ch for ch in header + detail + grid if ord(ch) > 0x2FFF], "emoji or pictograph on a screen"
    row = views.sessions_rows([state.summary])[0]
    assert row[0] == "Camille" and row[-1] == "r1" and "pré-lecture pour le jury" in row


def test_a_passage_reads_as_sentences_and_its_quote_stays_highlighted() -> None:
    text = "Ce projet m’a permis\nd’acquérir une méthode.\nJ’ai compris :\n- le MCD\n- le MPD\n\nFin."
    flowed = views.reflowed(text)
    assert len(flowed) == len(text)  # the quote's offsets hold
    assert flowed.startswith("Ce projet m’a permis d’acquérir une méthode.\nJ’ai compris :\n- le MCD\n- le MPD\n\n")
    quoted = "Ce projet m'a permis d'acquérir une méthode"
    assert "<mark>" in views._highlighted(flowed, quoted)


def test_a_file_without_pages_says_why_no_page_is_shown(tmp_path: Path) -> None:
    result = _state(tmp_path).report.criteria[0]
    docx = result.model_copy(
        update={"citations": [result.citations[0].model_copy(update={"page": None, "file": "memoire.docx"})]}
    )
    assert "n&#x27;a pas de pages (Word ou texte)" in views.no_page_html(docx, 0)
    assert views.no_page_html(result.model_copy(update={"citations": []}), 0) == ""
