"""A référentiel document (PDF, or its text) → a reading, by the first layout that recognises it.

PDFs are read with the ingestion's reader (``ingest.pdf``: pdfium, reading order, tables as
rows, page furniture set aside). A scanned PDF is read by OCR only when asked (``--ocr``); its
pages are otherwise reported as not read. A document in which no layout finds a competency is
refused: it is probably not a référentiel.
"""

from __future__ import annotations

import re
from pathlib import Path

from assessor.importer.pdf_layouts import is_rc, read_rc
from assessor.importer.reading import ImportFailure, Reading, Unread
from assessor.importer.text_layouts import Page, is_reac, read_grid, read_reac
from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.ingest.furniture import set_aside
from assessor.ingest.layout import PageLayout
from assessor.ingest.ocr import tesseract_status
from assessor.ingest.pdf import read_pdf
from assessor.referential import Provenance

MAX_PAGES = 400


def read_document(path: Path, *, ocr: bool = False) -> Reading:
    """Read a référentiel PDF or text; ``ImportFailure`` when it is not one or cannot be read."""
    data = path.read_bytes()
    unread: list[Unread] = []
    layouts: list[PageLayout | None] = []
    if data.startswith(b"%PDF"):
        pages, layouts = _pdf(path, data, ocr=ocr, unread=unread)
    else:
        pages = _text(path, data)
    if is_rc(layouts):
        reading = read_rc(path.name, layouts)
    elif is_reac(pages):
        reading = read_reac(path.name, pages)
    else:
        reading = read_grid(path.name, pages)
    reading.unread[:0] = unread
    if not reading.competencies:
        hint = " Si c'est un référentiel scanné, relancez avec --ocr." if unread and not ocr else ""
        raise ImportFailure(
            f"{path.name} : aucune compétence reconnue. Ce document ne semble pas être un référentiel : "
            "Assessor lit les tableaux « Compétences professionnelles / Critères d'évaluation » d'un RC, les "
            "fiches compétence d'un REAC (« Critères de performance ») et les grilles bloc / compétence / "
            f"modalité / critères ; rien n'a été écrit.{hint}"
        )
    return reading


def _pdf(path: Path, data: bytes, *, ocr: bool, unread: list[Unread]) -> tuple[list[Page], list[PageLayout | None]]:
    try:
        pdf_pages, _ = read_pdf(path.name, data, max_pages=MAX_PAGES, ocr=ocr)
    except IngestError as exc:
        if exc.code is not IngestErrorCode.PDF_NO_TEXT:
            raise
        why_not = tesseract_status()
        if not ocr:
            advice = "relancez avec --ocr pour le lire par reconnaissance de caractères (tesseract)"
        elif why_not:
            advice = f"l'OCR n'est pas disponible : {why_not}"
        else:
            advice = "l'OCR n'y a reconnu aucun texte ; demandez au certificateur le PDF d'origine"
        raise ImportFailure(
            f"{path.name} : référentiel scanné, aucune page ne contient de texte ; {advice}. Rien n'a été écrit."
        ) from exc
    layouts = [p.layout for p in pdf_pages]
    readings = iter(set_aside([layout for layout in layouts if layout is not None]))
    pages: list[Page] = []
    for number, pdf_page in enumerate(pdf_pages, start=1):
        text = next(readings).text if pdf_page.layout is not None else pdf_page.text
        if pdf_page.scanned and not pdf_page.ocr:
            unread.append(
                Unread(
                    Provenance(file=path.name, page=number),
                    "page sans texte (image ou scan), non lue ; --ocr la lirait",
                )
            )
        elif pdf_page.ocr:
            unread.append(Unread(Provenance(file=path.name, page=number), "page lue par OCR : vérifiez-en le texte"))
        pages.append(Page(number, text.splitlines()))
    return pages, layouts


def _text(path: Path, data: bytes) -> list[Page]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailure(
            f"{path.name} : ni un PDF ni un texte UTF-8 (octet invalide à la position {exc.start}) ; "
            "donnez le PDF du référentiel, ou son texte enregistré en UTF-8."
        ) from exc
    if "\x00" in text:
        raise ImportFailure(f"{path.name} : fichier binaire ; donnez le PDF du référentiel ou son texte.")
    # Form feeds separate pages (pdftotext); without them the text is one page, known by its lines.
    texts = text.split("\f")
    if len(texts) == 1:
        return [Page(None, re.split(r"\r?\n", text))]
    return [Page(number, re.split(r"\r?\n", page)) for number, page in enumerate(texts, start=1)]
