"""Reading a candidate's files: PDF, DOCX, Markdown and plain text, normalised page by page.

``load_file`` is the one entry point. It never returns half a file: either every page is
read (with warnings for what could not be, such as scanned pages without OCR), or it raises
an ``IngestError`` whose message and hint say what to do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assessor.ingest.document import FileKind, LoadedFile, Page, PageHeading, SetAside
from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.ingest.furniture import SetAsideKind, page_list, set_aside
from assessor.ingest.layout import garbled
from assessor.ingest.normalize import normalize_text, strip_running_lines
from assessor.ingest.sniff import sniff
from assessor.ingest.text import check_line_length, decode_text, thousands
from assessor.settings import IngestSettings

if TYPE_CHECKING:
    from assessor.ingest.pdf import PdfPage

NOTE_COLUMNS = "mise en page en deux colonnes, lue colonne par colonne"
NOTE_ROTATED = "page tournée : lue dans le sens du texte"
NOTE_VERTICAL = "texte écrit à la verticale, mis à part"
NOTE_EMPTY = "vide (aucun texte ni image)"
NOTE_TOC = "sommaire, mis à part des passages"
NOTE_COVER = "page de garde, mise à part des passages"
NOTE_ONLY_FURNITURE = "seulement en-tête, pied de page ou texte du modèle officiel : rien à citer"
NOTE_GARBLED = (
    "texte extrait peu lisible (mots collés, caractères inconnus) : vérifiez ces pages dans le PDF, "
    "ou demandez un PDF exporté depuis le traitement de texte"
)

__all__ = ["IngestError", "IngestErrorCode", "IngestSettings", "LoadedFile", "Page", "ReadProgress", "load_file"]

ReadProgress = Callable[[str, int, int], None]
"""progress(stage, done, total) while a PDF is read: « lecture » page by page, then « OCR » for its scanned pages."""


def load_file(
    path: Path,
    settings: IngestSettings | None = None,
    *,
    progress: ReadProgress | None = None,
) -> LoadedFile:
    """Read and normalise one file; ``IngestError`` when it cannot be used."""
    settings = settings or IngestSettings()
    name = path.name
    if not path.is_file():
        raise IngestError(
            IngestErrorCode.NOT_FOUND,
            name,
            f"le fichier {path} n'existe pas.",
            "Vérifiez le chemin (les noms avec des espaces doivent être entre guillemets).",
        )
    size = path.stat().st_size
    if size == 0:
        raise IngestError(
            IngestErrorCode.EMPTY,
            name,
            "le fichier est vide (0 octet).",
            "Le téléversement ou la copie a sans doute échoué : récupérez à nouveau le fichier.",
        )
    if size > settings.max_file_mb * 1_000_000:
        raise IngestError(
            IngestErrorCode.TOO_LARGE,
            name,
            f"le fichier pèse {_megabytes(size / 1_000_000)}, au-delà de la limite de "
            f"{_megabytes(settings.max_file_mb)}.",
            "Compressez les images du PDF ou relevez la limite (ASSESSOR_INGEST__MAX_FILE_MB).",
        )
    data = path.read_bytes()
    kind = sniff(path, data[:8192])
    sha256 = hashlib.sha256(data).hexdigest()
    warnings: list[str] = []
    unreadable: list[int] = []
    ocr_pages: list[int] = []
    if kind is FileKind.PDF:
        from assessor.ingest.pdf import read_pdf

        pdf_pages, warnings = read_pdf(
            name,
            data,
            max_pages=settings.max_pages,
            max_page_content_mb=settings.max_page_content_mb,
            ocr=settings.ocr,
            progress=progress,
        )
        pages, notes = _pdf_pages(pdf_pages)
        warnings += notes
        unreadable = [i + 1 for i, p in enumerate(pdf_pages) if p.scanned and not p.ocr]
        ocr_pages = [i + 1 for i, p in enumerate(pdf_pages) if p.ocr]
        paged = True
    elif kind is FileKind.DOCX:
        from assessor.ingest.word import check_archive, read_docx

        check_archive(
            path,
            max_entries=settings.max_zip_entries,
            max_unzipped_mb=settings.max_unzipped_mb,
            max_ratio=settings.max_zip_ratio,
        )
        sections, headers_docx, footers_docx = read_docx(name, data)
        margins = [SetAside(kind=SetAsideKind.HEADER, text=t) for t in headers_docx]
        margins += [SetAside(kind=SetAsideKind.FOOTER, text=t) for t in footers_docx]
        pages = [
            Page(
                number=i + 1,
                label=f"section {i + 1}" + (f" — {title}" if title else ""),
                text=normalize_text(text),
                set_aside=margins if i == 0 else [],
            )
            for i, (title, text) in enumerate(sections)
        ]
        paged = False
    else:
        _check_chars(name, len(data), settings.max_chars)  # a byte is at most a character: refused unread
        decoded, warnings = decode_text(name, data)
        check_line_length(name, decoded, settings.max_line_chars)
        texts = [normalize_text(t) for t in decoded.split("\f")]
        paged = len(texts) > 1
        if paged:
            texts, headers, footers = strip_running_lines(texts)
        else:
            headers, footers = [[]], [[]]
        pages = [
            Page(
                number=i + 1,
                label=f"page {i + 1}" if paged else "texte",
                text=text,
                set_aside=[SetAside(kind=SetAsideKind.HEADER, text=t) for t in headers[i]]
                + [SetAside(kind=SetAsideKind.FOOTER, text=t) for t in footers[i]],
            )
            for i, text in enumerate(texts)
        ]
    _check_chars(name, sum(len(p.text) for p in pages), settings.max_chars)
    if not any(p.text.strip() for p in pages):
        raise IngestError(
            IngestErrorCode.NO_TEXT,
            name,
            "le fichier ne contient aucun texte.",
            "Vérifiez que c'est bien la production du candidat, et non une page blanche.",
        )
    return LoadedFile(
        name=name,
        sha256=sha256,
        kind=kind,
        size_bytes=size,
        pages=pages,
        paged=paged,
        unreadable_pages=unreadable,
        ocr_pages=ocr_pages,
        warnings=warnings,
    )


def _pdf_pages(pdf_pages: list[PdfPage]) -> tuple[list[Page], list[str]]:
    """A PDF's pages with their furniture set aside, and French notes on what a reader should know."""
    readable = [p.layout for p in pdf_pages if p.layout is not None]
    readings = iter(set_aside(readable))
    pages: list[Page] = []
    found: dict[str, list[int]] = {}
    for number, pdf_page in enumerate(pdf_pages, start=1):
        layout = pdf_page.layout
        headings: list[tuple[str, int]] = []
        if layout is None:  # OCR text, or a page pdfium could not read
            text, removed = pdf_page.text, []
        else:
            reading = next(readings)
            text, removed, headings = reading.text, reading.set_aside, reading.headings
            if layout.columns:
                found.setdefault(NOTE_COLUMNS, []).append(number)
            if layout.rotated:
                found.setdefault(NOTE_ROTATED, []).append(number)
            if layout.vertical_chars:
                found.setdefault(NOTE_VERTICAL, []).append(number)
            if not layout.lines and not pdf_page.scanned:
                found.setdefault(NOTE_EMPTY, []).append(number)
            elif layout.lines and not text.strip():
                kinds = {kind for kind, _ in removed}
                note = (
                    NOTE_TOC
                    if SetAsideKind.TOC in kinds
                    else NOTE_COVER
                    if SetAsideKind.COVER in kinds
                    else NOTE_ONLY_FURNITURE
                )
                found.setdefault(note, []).append(number)
            if garbled(text):
                found.setdefault(NOTE_GARBLED, []).append(number)
        pages.append(
            Page(
                number=number,
                label=f"page {number}",
                text=normalize_text(text),
                ocr=pdf_page.ocr,
                set_aside=[SetAside(kind=kind, text=line) for kind, line in removed],
                headings=[PageHeading(text=normalize_text(line), level=level) for line, level in headings],
            )
        )
    notes = [f"{'page' if len(n) == 1 else 'pages'} {page_list(n)} : {note}" for note, n in found.items()]
    return pages, notes


def _check_chars(name: str, count: int, limit: int) -> None:
    if count > limit:
        raise IngestError(
            IngestErrorCode.TOO_MUCH_TEXT,
            name,
            f"le fichier contient {thousands(count)} caractères de texte, au-delà de la limite de "
            f"{thousands(limit)} (environ {limit // 2000} pages) : ce n'est pas un dossier de candidat.",
            "Ne gardez que la production du candidat et ses annexes utiles ; la limite se règle avec "
            "ASSESSOR_INGEST__MAX_CHARS.",
        )


def _megabytes(value: float) -> str:
    """« 12 Mo », « 0,3 Mo »: whole megabytes unless that would round a small size to nothing."""
    return f"{value:.0f} Mo" if value >= 10 else f"{value:.1f} Mo".replace(".", ",")
