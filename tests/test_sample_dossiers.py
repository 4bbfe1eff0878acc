"""The annotated sample dossiers: complete labels, gold quotes on their pages, generated files up to date."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assessor.ingest import load_file
from assessor.library import Library
from assessor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_dossiers"
FOLDERS = sorted(p.parent for p in SAMPLES.glob("*/source.md"))
sys.path.insert(0, str(SAMPLES))

import build  # noqa: E402


def test_four_dossiers_for_four_different_referentials() -> None:
    refs = {json.loads((f / "labels.json").read_text(encoding="utf-8"))["referential"] for f in FOLDERS}
    assert len(FOLDERS) >= 4 and len(refs) == len(FOLDERS)
    assert any((f / "dossier.docx").exists() for f in FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_labels_cover_every_criterion_and_quotes_are_on_their_page(folder: Path) -> None:
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    ref = Library.from_settings(Settings()).get(labels["referential"])
    assert [c["criterion_id"] for c in labels["criteria"]] == [c.id for c in ref.criteria_of(labels["block"])]
    pages = {p.number: " ".join(p.text.split()) for p in load_file(folder / "dossier.pdf").pages}
    assert 6 <= len(pages) <= 15
    outcomes = {c["outcome"] for c in labels["criteria"]}
    assert {"acquis", "partiellement_acquis"} <= outcomes and outcomes & {
        "non_acquis",
        "preuves_insuffisantes",
    }
    for entry in [*(e for c in labels["criteria"] for e in c["evidence"]), *labels["distractors"]]:
        quote = " ".join(entry["quote"].split())
        text = pages[entry["page"]] + (" " + pages[entry["page_end"]] if "page_end" in entry else "")
        assert quote in text, f"{folder.name}: {quote!r} is not on page {entry['page']}"
    assert len(labels["distractors"]) >= 5


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_generated_files_are_up_to_date(folder: Path, tmp_path: Path) -> None:
    labels = build.build(folder, tmp_path)
    committed = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    assert labels == committed, f"run: python sample_dossiers/build.py {folder.name}"
    fresh = [" ".join(p.text.split()) for p in load_file(tmp_path / "dossier.pdf").pages]
    stored = [" ".join(p.text.split()) for p in load_file(folder / "dossier.pdf").pages]
    assert fresh == stored, f"run: python sample_dossiers/build.py {folder.name}"
