"""Reading files: normalisation, running headers and footers, PDF/DOCX/text loaders, scanned pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from assessor.ingest import load_file, ocr as ocr_module
from assessor.ingest.document import FileKind
from assessor.ingest.normalize import normalize_text, strip_running_lines
from assessor.settings import IngestSettings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_dossiers"
REALDATA = ROOT.parent / "shared" / "realdata"


def test_normalisation_repairs_only_what_never_changes_wording() -> None:
    raw = "Le pro\u00adjet ﬁnal de déve-\nloppement\u00a0: « bien-\nFondé »  \t fin\r\n\n\n\nSuite"
    assert normalize_text(raw) == "Le projet final de développement : « bien-\nFondé » fin\n\nSuite"


def test_normalisation_composes_unicode() -> None:
    decomposed = "e\u0301value\u0301"  # « évalué » written with combining accents
    assert normalize_text(decomposed) == "évalué"


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "Cc"]), max_size=300))
def test_normalisation_is_idempotent_and_keeps_letters(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "  " not in once and "\u00ad" not in once and "\r" not in once
    letters = [c for c in text if c.isalpha() and c not in "ﬀﬁﬂﬃﬄﬅﬆ"]
    assert len([c for c in once if c.isalpha()]) >= len(letters) - text.count("\u00ad")


def test_running_headers_and_footers_are_removed_and_kept() -> None:
    pages = [
        f"Dossier Durand — Plan d'action\nContenu numéro {i}.\nSuite du texte {i}.\nSession | Page {i} / 5"
        for i in range(1, 6)
    ]
    texts, headers, footers = strip_running_lines(pages)
    assert texts[2] == "Contenu numéro 3.\nSuite du texte 3."
    assert headers[2] == ["Dossier Durand — Plan d'action"]
    assert footers[2] == ["Session | Page 3 / 5"]


def test_a_line_on_few_pages_is_not_a_running_line() -> None:
    pages = [
        "Titre A\nTexte un.",
        "Titre A\nTexte deux.",
        "Autre titre\nTexte trois.",
        "Autre\nTexte quatre.",
        "Encore\nTexte cinq.",
        "Fin\nTexte six.",
    ]
    texts, headers, _ = strip_running_lines(pages)
    assert texts == pages and not any(headers)


def test_pdf_sample_dossier_pages_headers_and_tables() -> None:
    loaded = load_file(SAMPLES / "omnicanal-b1" / "dossier.pdf")
    assert loaded.kind is FileKind.PDF and loaded.paged
    assert [p.number for p in loaded.pages] == list(range(1, 16))
    page = loaded.pages[5]
    assert [(s.kind, s.text) for s in page.set_aside] == [
        ("en_tete", "Léa Morvan — Dossier de développement commercial | Literie Kermarrec, Quimper"),
        ("pied_de_page", "Session 2026 | Page 6 / 15"),
    ]
    assert "Page 6 / 15" not in page.text and "Léa Morvan —" not in page.text
    every_text = "\n".join(p.text for p in loaded.pages)
    # A table row whose cells wrap over several lines reads in one piece, cells separated by « | ».
    assert (
        "A1 | Chef de projet 6 jours ; responsables de magasin 2 jours chacun ; formation de 22 vendeurs" in every_text
    )
    assert loaded.unreadable_pages == [] and loaded.ocr_pages == []


def test_docx_sections_headings_lists_and_tables() -> None:
    loaded = load_file(SAMPLES / "manager-b2" / "dossier.docx")
    assert loaded.kind is FileKind.DOCX and not loaded.paged
    assert all(p.label.startswith("section ") for p in loaded.pages)
    text = "\n".join(p.text for p in loaded.pages)
    assert "\n# " in "\n" + text and "\n## " in text  # headings keep their level
    assert "\n- " in text  # list items
    assert " | " in text  # table rows
    assert "en_tete" in [s.kind for s in loaded.pages[0].set_aside]  # the running header is kept as metadata


def test_text_and_markdown_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Page une.\fPage deux.\fPage trois.", encoding="utf-8")
    loaded = load_file(text)
    assert loaded.paged and [p.text for p in loaded.pages] == ["Page une.", "Page deux.", "Page trois."]
    md = tmp_path / "dossier.md"
    md.write_text("\ufeff# Titre\n\nUn paragraphe.\n", encoding="utf-8")
    loaded = load_file(md)
    assert loaded.kind is FileKind.MARKDOWN and not loaded.paged
    assert loaded.pages[0].text == "# Titre\n\nUn paragraphe."


@pytest.mark.skipif(not (REALDATA / "scanned").is_dir(), reason="../shared/realdata/scanned/ is absent")
def test_scanned_page_without_ocr_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned = REALDATA / "scanned" / "SCANNED_michel_et_andre_2.pdf"
    from assessor.ingest import IngestError

    with pytest.raises(IngestError) as caught:
        load_file(scanned, IngestSettings(ocr=False))
    assert caught.value.code == "pdf-sans-texte"
    assert "1 pages" in caught.value.message and "tesseract" in caught.value.hint


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed (optional OCR extra)")
@pytest.mark.skipif(not (REALDATA / "scanned").is_dir(), reason="../shared/realdata/scanned/ is absent")
def test_scanned_page_is_read_by_ocr_and_marked() -> None:
    if ocr_module.tesseract_status() is not None:
        pytest.skip(str(ocr_module.tesseract_status()))
    loaded = load_file(REALDATA / "scanned" / "SCANNED_michel_et_andre_2.pdf")
    assert loaded.ocr_pages == [1] and loaded.pages[0].ocr
    assert "préparation" in loaded.pages[0].text and "équipe" in loaded.pages[0].text


def test_a_partly_scanned_pdf_without_ocr_names_its_unreadable_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import BytesIO

    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path = tmp_path / "mixte.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 700, "Une page de texte ordinaire, assez longue pour compter comme lisible.")
    pdf.showPage()
    image = BytesIO()
    Image.new("RGB", (200, 100), "white").save(image, format="PNG")
    pdf.drawImage(ImageReader(BytesIO(image.getvalue())), 72, 500, width=200, height=100)
    pdf.showPage()
    pdf.save()
    monkeypatch.setattr(ocr_module, "tesseract_status", lambda: "tesseract n'est pas installé")
    from assessor.ingest import pdf as pdf_module

    monkeypatch.setattr(pdf_module, "tesseract_status", lambda: "tesseract n'est pas installé")
    loaded = load_file(path)
    assert loaded.unreadable_pages == [2]
    assert any("pages sans texte (scannées) non lues : 2" in w for w in loaded.warnings)
