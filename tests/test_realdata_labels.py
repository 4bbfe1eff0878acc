"""The labelled retrieval set on real documents (evals/) and the definitions the benchmark rests on."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "evals"))

from locate import NotFound, locate  # noqa: E402
from retrieval_labels import (  # noqa: E402
    LABELS,
    REALDATA,
    REFERENTIALS,
    Furniture,
    collapse,
    compact,
    hits,
    load_labelled_set,
    read_label_file,
    sample_furniture,
)

from assessor.library import Library  # noqa: E402
from assessor.settings import Settings  # noqa: E402

RULES = ROOT / "evals" / "retrieval-labels.md"
REAL_DOSSIERS = REALDATA / "dossiers"
needs_realdata = pytest.mark.skipif(
    not REAL_DOSSIERS.is_dir(), reason=f"{REAL_DOSSIERS} is absent: the real documents are not on this machine"
)


# --- the label file, without the documents ---------------------------------------------------------


def test_every_dossier_has_blocks_of_its_referential_and_every_written_criterion_labelled() -> None:
    library = Library.from_settings(Settings(referentials_dirs=[REFERENTIALS]))
    labels = read_label_file()
    assert len(labels.dossiers) == 8
    assert len({d.sha256 for d in labels.dossiers}) == len({d.key for d in labels.dossiers}) == 8
    for dossier in labels.dossiers:
        referential = library.get(dossier.referential)
        assert dossier.blocks, dossier.key
        expected = [c.id for b in dossier.blocks for c in referential.criteria_of(b) if c.written_assessable]
        assert [c.id for c in dossier.criteria] == expected, dossier.key
        assert any(c.evidence for c in dossier.criteria), f"{dossier.key}: no criterion with evidence"


def test_the_rules_exist_and_give_every_dossiers_block() -> None:
    rules = RULES.read_text(encoding="utf-8")
    for dossier in read_label_file().dossiers:
        row = next((line for line in rules.splitlines() if f"`{dossier.key}`" in line), None)
        assert row is not None, f"{dossier.key} is not in {RULES.name}"
        assert dossier.referential in row and all(b in row for b in dossier.blocks), row


def test_labels_hold_no_file_name() -> None:
    text = LABELS.read_text(encoding="utf-8")
    assert not re.search(r"\.pdf\b", text, re.IGNORECASE)


# --- the labels against the documents -----------------------------------------------------------------


@needs_realdata
def test_every_label_rebuilds_from_the_real_documents() -> None:
    labelled = load_labelled_set(samples=False)
    assert not labelled.skipped, "\n".join(f"{s.key}: {s.reason}" for s in labelled.skipped)
    assert len(labelled.dossiers) == 8
    for dossier in labelled.dossiers:
        assert all(1 <= len(c.gold) <= 3 for c in dossier.criteria if c.present)
        assert all(30 <= len(g.text) <= 1000 for c in dossier.criteria for g in c.gold), dossier.key


@needs_realdata
def test_no_text_of_the_documents_is_committed_in_evals() -> None:
    """No run of eight words of any excerpt or furniture line appears in the label file or the rules."""
    committed = " ".join(compact(w) for path in (LABELS, RULES) for w in path.read_text(encoding="utf-8").split())
    for dossier in load_labelled_set(samples=False).dossiers:
        texts = [g.text for c in dossier.criteria for g in c.gold] + dossier.furniture_lines
        for text in texts:
            words = [compact(w) for w in text.split() if compact(w)]
            runs = {" ".join(words[i : i + 8]) for i in range(len(words) - 7)}
            # The message says where, never what: the test output must not carry the documents' text.
            assert not any(run in committed for run in runs), f"{dossier.key}: eight words of its text are committed"


@needs_realdata
def test_a_changed_hash_skips_the_dossier_with_a_reason(tmp_path: Path) -> None:
    text = LABELS.read_text(encoding="utf-8")
    first = re.search(r"evidence:\n\s+- \{page: \d+, start: \d+, end: \d+, sha256: ([0-9a-f]{64})", text)
    assert first is not None
    broken = tmp_path / "labels.yaml"
    broken.write_text(text.replace(first.group(1), "f" * 64, 1), encoding="utf-8")
    labelled = load_labelled_set(labels=broken, samples=False)
    assert len(labelled.dossiers) == 7
    assert "no longer matches its hash" in labelled.skipped[0].reason


def test_an_absent_folder_skips_every_real_dossier(tmp_path: Path) -> None:
    labelled = load_labelled_set(tmp_path / "nowhere", samples=False)
    assert labelled.dossiers == [] and len(labelled.skipped) == 8
    assert all("no PDF under" in s.reason for s in labelled.skipped)


# --- the definitions, on synthetic text ------------------------------------------------------------------

EXCERPT = "Les objectifs de la veille délimitent le périmètre : trois marchés, deux concurrents, une période."


def test_a_passage_hits_an_excerpt_whatever_its_spacing_case_and_punctuation() -> None:
    passage = "Intro.\nLES OBJECTIFS de la veille | délimitent le\npérimètre - trois marchés deux concurrents ; une"
    assert hits(passage + " période", EXCERPT)


def test_sixty_percent_in_one_piece_hits_and_less_does_not() -> None:
    target = compact(EXCERPT)
    cut = -(-len(target) * 6 // 10)  # ceil(60 %)
    assert hits("Avant. " + target[:cut] + " Après.", EXCERPT)
    assert hits(target[len(target) - cut :], EXCERPT)
    assert not hits(target[: cut - 1], EXCERPT)


def test_the_excerpts_words_interleaved_with_another_column_do_not_hit() -> None:
    other = ["colonne", "voisine", "sans", "rapport", "avec", "le", "critère"]
    words = EXCERPT.split()
    interleaved = " | ".join(w for pair in zip(words, other * 3, strict=False) for w in pair)
    assert not hits(interleaved, EXCERPT)
    assert not hits("", EXCERPT) and not hits(EXCERPT, "")


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs", "P"]), max_size=200), st.text(max_size=50))
def test_any_text_inside_a_passage_hits_it(excerpt: str, around: str) -> None:
    if compact(excerpt):
        assert hits(around + excerpt + around, excerpt)


FOOTER = "DOSSIER PROFESSIONNEL-Version Traitement de texte – Version du 11/09/2017 Page 12"
TEMPLATE = "2. Précisez les moyens utilisés :"
CONTENT = "J'ai configuré le serveur de développement et la base de test avant d'écrire les premières routes."


def test_footer_and_form_heading_alone_are_furniture_and_with_content_are_not() -> None:
    furniture = Furniture([FOOTER, TEMPLATE, "1."])
    assert furniture.is_furniture(f"{TEMPLATE}\n{FOOTER}")
    assert furniture.is_furniture("3.4 Les moyens")  # a bare heading: too short, with nothing labelled
    assert not furniture.is_furniture(f"{TEMPLATE}\n{CONTENT}\n{FOOTER}")
    assert furniture.residue(f"{TEMPLATE}\n{CONTENT}\n{FOOTER}") == len(compact(CONTENT))


def test_a_furniture_line_split_or_interleaved_by_another_extractor_is_still_removed() -> None:
    furniture = Furniture([FOOTER])
    split = "DOSSIERPROFESSIONNEL-Version | Traitement detexte –Version du11/09/2017 | Page | 12"
    assert furniture.residue(split) == 0
    reordered = "Page 12 | DOSSIER PROFESSIONNEL-Version | Traitement de texte"
    assert furniture.residue(reordered) <= len("page12")


def test_a_short_furniture_line_does_not_eat_the_content() -> None:
    text = "Chiffre 1 : 31 clients, 13 rendez-vous."
    assert Furniture(["1.", "3"]).residue(text) == len(compact(text))


def test_sample_furniture_is_the_front_matter_and_the_running_lines() -> None:
    pages = [
        "Mon dossier\nSommaire\n1. Introduction 3\n2. Analyse 4",
        "A. Nom — Mon dossier\nSession 2026 Page 2 / 4\n1. Introduction\nTexte de l'introduction.",
        "A. Nom — Mon dossier\nSession 2026 Page 3 / 4\nSuite du texte.",
        "A. Nom — Mon dossier\nSession 2026 Page 4 / 4\n2. Analyse\nTexte de l'analyse.",
    ]
    furniture = sample_furniture(pages)
    assert "Sommaire" in furniture and "1. Introduction 3" in furniture
    assert "Session 2026 Page 3 / 4" in furniture and "A. Nom — Mon dossier" in furniture
    assert "1. Introduction" not in furniture and "Suite du texte." not in furniture


# --- the locating tool ---------------------------------------------------------------------------------------

PAGE = "Titre\nJ’ai d’abord   lu la consigne.\nEnsuite j'ai rédigé\ndes récits utilisateurs. Fin de la page."


def test_locate_ignores_spacing_and_apostrophes_and_accepts_an_ellipsis() -> None:
    start, end = locate(PAGE, "J'ai d'abord lu la consigne.")
    assert PAGE[start:end] == "J’ai d’abord   lu la consigne."
    start, end = locate(PAGE, "Ensuite j’ai ... utilisateurs.")
    assert collapse(PAGE[start:end]) == "Ensuite j'ai rédigé des récits utilisateurs."


def test_locate_refuses_an_ambiguous_or_missing_quote() -> None:
    with pytest.raises(NotFound, match="2 times"):
        locate(PAGE, "la")
    with pytest.raises(NotFound, match="not on this page"):
        locate(PAGE, "absent de la page")
