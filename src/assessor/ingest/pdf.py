"""PDF pages with pypdf: text per page (layout order), scanned-page detection, optional OCR."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.ingest.ocr import ocr_pdf_page, tesseract_status

# pypdf logs every repaired cross-reference; the user gets our own summary instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MIN_TEXT_CHARS = 20


class PdfPage:
    def __init__(self, text: str, *, scanned: bool = False, ocr: bool = False) -> None:
        self.text = text
        self.scanned = scanned
        self.ocr = ocr


_SEGMENT = re.compile(r"\S+(?: {1,2}\S+)*")  # text runs separated by three spaces or more
_BULLET_GAP = re.compile(r"^(\s*[•▪◦●○■□►▸✓✔*–-])\s+")
_TOC_ENTRY = re.compile(
    r"(?:\.\s?){4,}\s*\d{1,3}\s*$|^\s*(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+\S.*\S\s{3,}\d{1,3}\s*$"
)


def _segments(line: str) -> list[tuple[int, str]]:
    line = _BULLET_GAP.sub(r"\1 ", line, count=1)  # a bullet and its text are one run, not two columns
    return [(m.start(), m.group()) for m in _SEGMENT.finditer(line)]


def _columns(lines: list[str]) -> list[int]:
    """Start positions of the columns seen in the multi-segment lines of a table region."""
    starts = sorted({start for line in lines for start, _ in _segments(line) if len(_segments(line)) > 1})
    merged: list[int] = []
    for start in starts:
        if not merged or start - merged[-1] > 3:
            merged.append(start)
    return merged


def _table_rows(lines: list[str]) -> list[str]:
    """Rows of a table region: blank lines separate rows; a cell's wrapped lines are joined."""
    columns = _columns(lines)
    rows: list[list[list[str]]] = [[[] for _ in columns]]
    for line in lines:
        if not line.strip():
            if any(rows[-1]):
                rows.append([[] for _ in columns])
            continue
        for start, text in _segments(line):
            column = max((i for i, c in enumerate(columns) if c <= start + 3), default=0)
            rows[-1][column].append(text)
    return [" | ".join(" ".join(cell) for cell in row if cell) for row in rows if any(row)]


def _layout_text(raw: str) -> str:
    """Layout-mode text with tables rebuilt: one line per row, cells separated by « | ».

    pypdf's layout mode prints a page as a character grid: table cells sit side by side and
    a cell that wraps continues on the next lines, interleaved with its neighbours. A table
    region is a run of lines with several text runs (or continuations aligned with a later
    column); its cells are rebuilt from the column positions so that a cell's text reads
    in one piece. Everything else is kept line by line, without indentation.
    """
    lines = raw.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _TOC_ENTRY.search(lines[i]):
            out.append(" | ".join(text for _, text in _segments(lines[i])))  # never a table cell
            i += 1
            continue
        if len(_segments(lines[i])) < 2:
            out.append(lines[i].strip())
            i += 1
            continue
        region = [lines[i]]
        j = i + 1
        while j < len(lines):
            line = lines[j]
            segments = _segments(line)
            columns = _columns(region)
            if _TOC_ENTRY.search(line):
                break
            if not segments or len(segments) > 1:
                region.append(line)
            elif len(columns) > 1 and segments[0][0] >= columns[1] - 3:
                region.append(line)  # a wrapped cell of a later column
            elif region[-1].strip():
                region.append(line)  # a wrapped first cell, on the line just below
            else:
                break
            j += 1
        while region and not region[-1].strip():
            region.pop()
            j -= 1
        out += _table_rows(region)
        i = j
    return "\n".join(out)


def _has_images(page: object) -> bool:
    try:
        resources = page["/Resources"]  # type: ignore[index]
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return False
        return any(obj.get_object().get("/Subtype") == "/Image" for obj in xobjects.get_object().values())
    except (KeyError, AttributeError, TypeError, PdfReadError):
        return False


def read_pdf(
    name: str,
    data: bytes,
    *,
    max_pages: int,
    ocr: bool,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[PdfPage], list[str]]:
    """Read every page of a PDF. Returns the pages and French warnings; raises ``IngestError``."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except DependencyError as exc:
                raise IngestError(
                    IngestErrorCode.PDF_ENCRYPTED,
                    name,
                    "le PDF est chiffré avec un algorithme que cette installation ne sait pas lire.",
                    "Installez le paquet Python « cryptography » ou enregistrez une copie non protégée.",
                ) from exc
            if not unlocked:
                raise IngestError(
                    IngestErrorCode.PDF_ENCRYPTED,
                    name,
                    "le PDF est protégé par un mot de passe.",
                    "Enregistrez une copie sans mot de passe (par exemple « qpdf --decrypt "
                    "--password=MOT_DE_PASSE entree.pdf sortie.pdf ») puis recommencez.",
                )
        count = len(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, PdfStreamError, FileNotDecryptedError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(
            IngestErrorCode.PDF_CORRUPT,
            name,
            f"le PDF est endommagé ou tronqué ({exc}).",
            "Ré-exportez-le depuis le logiciel d'origine ou demandez une nouvelle copie au candidat.",
        ) from exc
    if count == 0:
        raise IngestError(
            IngestErrorCode.PDF_CORRUPT,
            name,
            "le PDF ne contient aucune page lisible (fichier tronqué ?).",
            "Ré-exportez-le depuis le logiciel d'origine ou demandez une nouvelle copie au candidat.",
        )
    if count > max_pages:
        raise IngestError(
            IngestErrorCode.TOO_MANY_PAGES,
            name,
            f"le PDF compte {count} pages, au-delà de la limite de {max_pages}.",
            "Retirez les annexes inutiles à l'évaluation, ou relevez la limite avec --max-pages "
            "(ou ASSESSOR_INGEST__MAX_PAGES).",
        )
    pages: list[PdfPage] = []
    warnings: list[str] = []
    for index, page in enumerate(reader.pages):
        try:
            text = _layout_text(page.extract_text(extraction_mode="layout"))
        except Exception as exc:
            warnings.append(f"page {index + 1} : texte illisible ({type(exc).__name__}), page ignorée")
            text = ""
        scanned = len(re.sub(r"\s", "", text)) < MIN_TEXT_CHARS and _has_images(page)
        pages.append(PdfPage(text, scanned=scanned))
        if progress:
            progress(index + 1, count)
    scanned_pages = [i for i, p in enumerate(pages) if p.scanned]
    if scanned_pages:
        why_not = tesseract_status() if ocr else "l'OCR est désactivé (--no-ocr)"
        if why_not is None:
            for i in scanned_pages:
                try:
                    pages[i] = PdfPage(ocr_pdf_page(data, i), scanned=True, ocr=True)
                except (RuntimeError, OSError) as exc:
                    warnings.append(f"page {i + 1} : OCR impossible ({exc})")
        else:
            listed = ", ".join(str(i + 1) for i in scanned_pages)
            warnings.append(f"pages sans texte (scannées) non lues : {listed} — {why_not}")
    if not any(len(re.sub(r"\s", "", p.text)) >= MIN_TEXT_CHARS for p in pages):
        scanned_list = ", ".join(str(i + 1) for i, p in enumerate(pages) if p.scanned) or "aucune"
        if not ocr:
            reason = "l'OCR est désactivé (--no-ocr)"
            hint = "Relancez sans --no-ocr pour lire les pages scannées avec tesseract."
        else:
            why_not = tesseract_status()
            reason = why_not or "l'OCR n'a rien reconnu"
            first = (
                "Installez l'OCR (apt-get install tesseract-ocr tesseract-ocr-fra)"
                if why_not
                else ("Vérifiez la qualité du scan")
            )
            hint = f"{first}, ou demandez au candidat le PDF d'origine, exporté depuis son traitement de texte."
        raise IngestError(
            IngestErrorCode.PDF_NO_TEXT,
            name,
            f"aucune des {count} pages ne contient de texte lisible (pages scannées : {scanned_list}) ; {reason}.",
            hint,
        )
    return pages, warnings
