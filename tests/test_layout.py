"""Reading real layouts (issue 12, point 1 and « Bad input »): PDFs drawn with reportlab, read back.

Each PDF is built for one layout a candidate's dossier may have: justified prose, a table
without borders whose cells wrap, two columns, running headers and footers with page numbers,
a table of contents, a cover page, pages that all say the same, a rotated page, vertical text,
an empty page, a page with only its header. The tests say what a reader must get: the words in
order, rows as rows, furniture set aside (and kept), and a French note for each oddity, in the
ingest summary that ``assessor ingest`` prints.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from reportlab.lib.enums import TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Frame, Paragraph, Table
from typer.testing import CliRunner

from assessor.chunking import chunk_file
from assessor.citations import verify_citations
from assessor.cli import app, common
from assessor.dossiers import DossierStore
from assessor.ingest import NOTE_GARBLED, load_file, pdf as pdf_module
from assessor.ingest.furniture import page_list
from assessor.ingest.layout import _clean_char, garbled
from assessor.results import CriterionResult, Status
from assessor.settings import Settings
from assessor.webapp import views
from test_bad_inputs import write_image_pdf

WIDTH, HEIGHT = A4
PROSE = (
    "Pendant mon alternance, j'ai conduit l'étude de marché de la nouvelle gamme en interrogeant "
    "quatre cents clients, puis j'ai présenté à la direction un plan d'action chiffré qui "
    "prévoyait trois actions prioritaires, un budget de quarante mille euros et un calendrier "
    "sur douze mois, avec des indicateurs de suivi mensuels partagés avec les responsables de magasin."
)
JUSTIFIED = ParagraphStyle("justified", fontName="Helvetica", fontSize=11, leading=14, alignment=TA_JUSTIFY)


def _paragraph(canvas: Canvas, text: str, x: float, y: float, width: float, style: ParagraphStyle = JUSTIFIED) -> float:
    """Draw a paragraph with its top at ``y``; returns the y under it."""
    paragraph = Paragraph(text, style)
    _, height = paragraph.wrap(width, HEIGHT)
    paragraph.drawOn(canvas, x, y - height)
    return y - height - 10


def _margins(canvas: Canvas, number: int, total: int) -> None:
    canvas.setFont("Helvetica", 8)
    canvas.drawString(2 * cm, HEIGHT - 1.2 * cm, "Camille Exemple — Dossier professionnel — Session 2026")
    canvas.drawString(2 * cm, 1 * cm, f"Page {number} / {total}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("layouts")


def test_justified_prose_is_never_a_table_and_keeps_its_words(folder: Path) -> None:
    path = folder / "justifie.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    y = HEIGHT - 3 * cm
    for _ in range(4):
        y = _paragraph(canvas, PROSE + " " + PROSE, 2 * cm, y, 9 * cm)  # narrow: wide justified gaps
    canvas.save()
    text = load_file(path).pages[0].text
    assert " | " not in text
    flat = " ".join(text.split())
    assert "plan d'action chiffré qui prévoyait trois actions prioritaires" in flat
    assert "indicateurs de suivi mensuels" in flat


def test_a_table_without_borders_reads_row_by_row_with_wrapped_cells_joined(folder: Path) -> None:
    path = folder / "tableau.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    y = _paragraph(
        canvas, "Le tableau suivant résume les actions retenues et leurs moyens.", 2 * cm, HEIGHT - 3 * cm, 16 * cm
    )
    cell = ParagraphStyle("cell", fontName="Helvetica", fontSize=9, leading=11)
    data = [
        ["Action", "Moyens humains", "Budget"],
        [
            "A1",
            Paragraph("Chef de projet six jours ; responsables de magasin deux jours chacun ; formation", cell),
            "9 000 €",
        ],
        ["A2", Paragraph("Deux vendeurs experts quatre jours", cell), "14 000 €"],
    ]
    table = Table(data, colWidths=[3 * cm, 6 * cm, 3 * cm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")])
    _, height = table.wrap(12 * cm, HEIGHT)
    table.drawOn(canvas, 2 * cm, y - height)
    canvas.save()
    text = load_file(path).pages[0].text
    assert "Action | Moyens humains | Budget" in text
    assert "A1 | Chef de projet six jours ; responsables de magasin deux jours chacun ; formation | 9 000 €" in text
    assert "A2 | Deux vendeurs experts quatre jours | 14 000 €" in text


def two_column_pdf(path: Path) -> Path:
    canvas = Canvas(str(path), pagesize=A4)
    left = "COLONNE GAUCHE. " + PROSE + " " + PROSE
    right = "COLONNE DROITE. " + PROSE.replace("alternance", "stage") + " " + PROSE
    Frame(2 * cm, 3 * cm, 8 * cm, HEIGHT - 6 * cm, showBoundary=0).addFromList([Paragraph(left, JUSTIFIED)], canvas)
    Frame(11 * cm, 3 * cm, 8 * cm, HEIGHT - 6 * cm, showBoundary=0).addFromList([Paragraph(right, JUSTIFIED)], canvas)
    canvas.save()
    return path


def test_two_columns_are_read_column_by_column(folder: Path) -> None:
    loaded = load_file(two_column_pdf(folder / "colonnes.pdf"))
    text = " ".join(loaded.pages[0].text.split())
    assert text.index("COLONNE GAUCHE") < text.index("COLONNE DROITE")
    assert "j'ai conduit l'étude de marché de la nouvelle gamme" in text  # a left line runs on in its column
    assert " | " not in text
    assert any("deux colonnes" in w for w in loaded.warnings)


def test_running_headers_and_footers_are_set_aside_and_kept(folder: Path) -> None:
    path = folder / "entetes.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(1, 5):
        _margins(canvas, number, 4)
        _paragraph(canvas, f"Section {number}. " + PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
        canvas.showPage()
    canvas.save()
    loaded = load_file(path)
    for page in loaded.pages:
        assert "Session 2026" not in page.text and "Page " not in page.text
        assert f"Section {page.number}." in page.text
        kinds = {s.kind: s.text for s in page.set_aside}
        assert kinds["en_tete"] == "Camille Exemple — Dossier professionnel — Session 2026"
        assert kinds["numero_de_page"] == f"Page {page.number} / 4"
    passages = chunk_file(loaded)
    assert passages and not any("Session 2026" in p.text for p in passages)


def test_the_set_aside_text_is_kept_with_the_dossier_and_shown_beside_the_cited_page(folder: Path) -> None:
    path = folder / "entetes.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    for number, title in enumerate(("Étude de marché", "Plan d'action", "Négociation", "Bilan"), start=1):
        _margins(canvas, number, 4)
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(2 * cm, HEIGHT - 2.6 * cm, f"{number}. {title}")
        _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3.4 * cm, 16 * cm)
        canvas.showPage()
    canvas.save()
    store = DossierStore(Settings(data_dir=folder / "data"))
    store.ingest("camille", [path])
    record = store.get("camille").files[0]
    assert [s.kind for s in record.set_aside[2]] == ["en_tete", "numero_de_page"]
    chunks = {c.id: c for c in store.index.chunks("camille")}
    chunk = next(c for c in chunks.values() if c.page_start == 2)
    assert chunk.heading_path and "Plan d'action" in chunk.heading_path[-1]
    citations = verify_citations([(chunk.id, "quatre cents clients")], chunks)
    assert citations[0].verified and citations[0].headings == chunk.heading_path
    result = CriterionResult(
        criterion_id="r/B1/C1/1",
        criterion_text="…",
        block="B1",
        outcome="a_examiner",
        rationale="…",
        citations=citations,
        model="evidence-only",
        status=Status.PROPOSED,
    )
    aside = {(record.name, page): items for page, items in record.set_aside.items()}
    shown = views.citations_html(result, chunks, aside)
    assert f"{html.escape(chunk.heading_path[-1])}</div>" in shown  # the heading path above the passage
    assert "Texte mis de côté sur les pages citées" in shown and "Page 2 / 4" in shown
    assert "en-tête répété" in shown and "Session 2026" in shown
    assert "Page 3 / 4" not in shown  # only the cited pages


def test_pages_that_all_say_the_same_still_ingest(folder: Path) -> None:
    """The old reader took every line repeated at the top of most pages for a header, and refused
    such a PDF as having no text."""
    path = folder / "repetitif.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    for _ in range(3):
        y = HEIGHT - 6 * cm
        for line in ("Attestation de présence en entreprise", "L'entreprise certifie la présence du stagiaire."):
            y = _paragraph(canvas, line, 2 * cm, y, 16 * cm)
        _paragraph(canvas, PROSE, 2 * cm, y, 16 * cm)
        canvas.showPage()
    canvas.save()
    loaded = load_file(path)
    assert all("certifie la présence du stagiaire" in page.text for page in loaded.pages)
    assert all("quatre cents clients" in page.text for page in loaded.pages)


def test_table_of_contents_and_cover_page_are_set_aside(folder: Path) -> None:
    path = folder / "sommaire.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    canvas.setFont("Helvetica-Bold", 24)
    canvas.drawString(4 * cm, HEIGHT / 2, "DOSSIER PROFESSIONNEL")
    canvas.setFont("Helvetica", 14)
    canvas.drawString(4 * cm, HEIGHT / 2 - 1.5 * cm, "Camille Exemple — Session 2026")
    canvas.showPage()
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(2 * cm, HEIGHT - 3 * cm, "Sommaire")
    canvas.setFont("Helvetica", 11)
    for index, (title, page) in enumerate([("Introduction", 3), ("Étude de marché", 4), ("Plan d'action", 6)]):
        canvas.drawString(2 * cm, HEIGHT - (4.5 + index) * cm, f"{index + 1}. {title} " + "." * 60 + f" {page}")
    canvas.showPage()
    _paragraph(canvas, "1. Introduction", 2 * cm, HEIGHT - 3 * cm, 16 * cm)
    _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 4 * cm, 16 * cm)
    canvas.showPage()
    canvas.save()
    loaded = load_file(path)
    assert loaded.pages[0].text == "" and loaded.pages[1].text == ""
    assert {s.kind for s in loaded.pages[0].set_aside} == {"page_de_garde"}
    assert "Sommaire" in [s.text for s in loaded.pages[1].set_aside if s.kind == "sommaire"]
    assert "page 1 : page de garde, mise à part des passages" in loaded.warnings
    assert "page 2 : sommaire, mis à part des passages" in loaded.warnings
    passages = chunk_file(loaded)
    assert [p.page_start for p in passages] == [3]


def oddities_pdf(path: Path) -> Path:
    """Five pages: vertical text on page 1, page 3 rotated, pages 2 and 4 with only their header and footer."""
    canvas = Canvas(str(path), pagesize=A4)
    for number in range(1, 6):
        _margins(canvas, number, 5)
        if number == 1:
            _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
            canvas.saveState()
            canvas.translate(1 * cm, 8 * cm)
            canvas.rotate(90)
            canvas.setFont("Helvetica", 9)
            canvas.drawString(0, 0, "Document confidentiel — ne pas diffuser")
            canvas.restoreState()
        elif number == 3:
            canvas.setPageRotation(90)
            _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
        elif number == 4:
            canvas.setPageRotation(0)
        elif number == 5:
            _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
        # pages 2 and 4 hold only their header and footer
        canvas.showPage()
    canvas.save()
    return path


def test_each_oddity_gets_a_french_note(folder: Path) -> None:
    loaded = load_file(oddities_pdf(folder / "bizarre.pdf"))
    notes = "\n".join(loaded.warnings)
    assert "page 1 : texte écrit à la verticale, mis à part" in notes
    assert "page 3 : page tournée : lue dans le sens du texte" in notes
    assert "pages 2 et 4 : seulement en-tête, pied de page ou texte du modèle officiel : rien à citer" in notes
    assert "Document confidentiel" not in loaded.pages[0].text
    assert "quatre cents clients" in loaded.pages[2].text


def empty_page_pdf(path: Path) -> Path:
    canvas = Canvas(str(path), pagesize=A4)
    _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
    canvas.showPage()
    canvas.showPage()  # nothing on it
    _paragraph(canvas, PROSE, 2 * cm, HEIGHT - 3 * cm, 16 * cm)
    canvas.showPage()
    canvas.save()
    return path


def test_an_empty_page_is_noted(folder: Path) -> None:
    assert "page 2 : vide (aucun texte ni image)" in load_file(empty_page_pdf(folder / "vide.pdf")).warnings


def test_private_use_bullets_ligatures_and_line_end_hyphens(folder: Path) -> None:
    assert _clean_char("\uf0b7") == "•" and _clean_char("\uf0a7") == "•"
    assert _clean_char("\ue123") == "" and _clean_char("é") == "é"
    assert _clean_char("\ufffe") == "-"
    path = folder / "typo.pdf"
    canvas = Canvas(str(path), pagesize=A4)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(2 * cm, HEIGHT - 3 * cm, "J'ai conduit le déve-")
    canvas.drawString(
        2 * cm, HEIGHT - 3 * cm - 13, "loppement commercial de la zone ouest, avec un chiffre d'affaires en hausse."
    )
    canvas.save()
    text = load_file(path).pages[0].text
    assert "le développement commercial de la zone ouest" in " ".join(text.split())


def test_garbled_extraction_is_recognised() -> None:
    good = " ".join([PROSE] * 3)
    assert not garbled(good)
    assert garbled(
        " ".join(["Leslaboratoiresontconstatéuneaugmentationsignificativedesventes"] * 10) + " " + good[:200]
    )
    assert garbled("Texte (cid:12)(cid:45) illisible " * 5)
    assert garbled(" ".join(["xqzt", "bcdfg", "mrtpl", "wxkq"] * 10))


def garbled_pdf(path: Path) -> Path:
    """A text layer whose words run together, as some PDF exporters write it."""
    canvas = Canvas(str(path), pagesize=A4)
    canvas.setFont("Helvetica", 9)
    for line in range(30):
        glued = "Leslaboratoiresontconstatéuneaugmentation significativedesventes" if line % 2 else PROSE[:60]
        canvas.drawString(2 * cm, HEIGHT - 3 * cm - 14 * line, glued)
    canvas.save()
    return path


def test_the_ingest_summary_gives_each_oddity_its_french_note(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common.console, "width", 400)  # the console's width was fixed when it was made
    """What the user sees after « assessor ingest »: one note per oddity, with its pages."""
    files = [
        two_column_pdf(folder / "colonnes.pdf"),
        oddities_pdf(folder / "bizarre.pdf"),
        empty_page_pdf(folder / "vide.pdf"),
        garbled_pdf(folder / "colle.pdf"),
        write_image_pdf(folder / "scan.pdf", 3, text_pages=(1, 3)),
    ]
    result = CliRunner().invoke(
        app,
        ["--data-dir", str(folder / "data"), "ingest", *map(str, files), "--dossier", "bizarre", "--no-ocr"],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.stderr
    for note in [
        "page 1 : mise en page en deux colonnes, lue colonne par colonne",
        "page 3 : page tournée : lue dans le sens du texte",
        "page 1 : texte écrit à la verticale, mis à part",
        "pages 2 et 4 : seulement en-tête, pied de page ou texte du modèle officiel : rien à citer",
        "page 2 : vide (aucun texte ni image)",
        f"page 1 : {NOTE_GARBLED}",
        "pages sans texte (scannées) non lues : 2 — l'OCR est désactivé (--no-ocr)",
    ]:
        assert note in result.stdout, note


def test_the_ingest_summary_names_the_pages_read_by_ocr(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_module, "tesseract_status", lambda: None)
    monkeypatch.setattr(pdf_module, "ocr_pdf_page", lambda data, index: f"Texte de la page {index + 1} lu par OCR.")
    path = write_image_pdf(folder / "scan-ocr.pdf", 3, text_pages=(1,))
    result = CliRunner().invoke(
        app, ["--data-dir", str(folder / "ocr"), "ingest", str(path), "--dossier", "scan"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.stderr
    assert "pages lues par OCR : 2 et 3" in result.stdout


def test_page_lists_read_as_french() -> None:
    assert page_list([3]) == "3"
    assert page_list([2, 4]) == "2 et 4"
    assert page_list([3, 4, 5, 6, 9]) == "3 à 6 et 9"
    assert page_list([1, 2, 5]) == "1, 2 et 5"
