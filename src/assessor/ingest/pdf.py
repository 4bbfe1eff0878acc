"""PDF pages: checked with pypdf (damaged, encrypted, too long), read with pdfium in reading order
(``ingest.layout``), scanned pages detected and, with tesseract, read by OCR."""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Callable

import pypdfium2 as pdfium
from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError
from pypdf.generic import ArrayObject, NameObject

from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.ingest.layout import PDFIUM_LOCK, PageLayout, read_layout
from assessor.ingest.ocr import ocr_pdf_page, tesseract_status

# pypdf logs every repaired cross-reference; the user gets our own summary instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MIN_TEXT_CHARS = 20


class PdfPage:
    """One page: its layout as read from the text layer, or, for a scanned page, its OCR text."""

    def __init__(self, layout: PageLayout | None, *, text: str = "", scanned: bool = False, ocr: bool = False) -> None:
        self.layout = layout
        self.text = layout.text if layout is not None else text
        self.scanned = scanned
        self.ocr = ocr


def _has_images(page: object) -> bool:
    try:
        resources = page["/Resources"]  # type: ignore[index]
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return False
        return any(obj.get_object().get("/Subtype") == "/Image" for obj in xobjects.get_object().values())
    except (KeyError, AttributeError, TypeError, PdfReadError):
        return False


def _pdfium_page_count(data: bytes) -> int:
    """The page count pdfium reads from the page tree, in C; 0 when it cannot open the file (pypdf says why)."""
    try:
        with PDFIUM_LOCK:
            document = pdfium.PdfDocument(data)
            try:
                return len(document)
            finally:
                document.close()
    except pdfium.PdfiumError:
        return 0


def _check_page_count(name: str, count: int, max_pages: int) -> None:
    if count > max_pages:
        raise IngestError(
            IngestErrorCode.TOO_MANY_PAGES,
            name,
            f"le PDF compte {count} pages, au-delà de la limite de {max_pages}.",
            "Retirez les annexes inutiles à l'évaluation, ou relevez la limite avec --max-pages "
            "(ou ASSESSOR_INGEST__MAX_PAGES).",
        )


def _check_page_content(name: str, number: int, page: PageObject, max_mb: float) -> None:
    """Refuse a page whose drawing instructions inflate past ``max_mb``, before pdfium reads them.

    Flate streams (nearly all) are inflated a megabyte at a time and counted, never kept."""
    limit = int(max_mb * 1_000_000)
    contents = page.get("/Contents")
    if contents is None:
        return
    contents = contents.get_object()
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
    size = 0
    for item in streams:
        stream = item.get_object()
        raw: bytes = getattr(stream, "_data", b"") or b""
        if stream.get("/Filter") in ("/FlateDecode", ArrayObject([NameObject("/FlateDecode")])):
            inflater = zlib.decompressobj()
            pending = raw
            try:
                while pending and size <= limit:
                    size += len(inflater.decompress(pending, 1 << 20))
                    pending = inflater.unconsumed_tail
            except zlib.error:
                continue  # damaged: pdfium says what it can read of it
        else:
            size += len(raw)
        if size > limit:
            raise IngestError(
                IngestErrorCode.PDF_BOMB,
                name,
                f"la page {number} du PDF contient plus de {max_mb:.0f} Mo d'instructions de dessin une fois "
                "décompressées, au-delà de la limite : c'est la marque d'une bombe de décompression.",
                "Ré-exportez le PDF depuis le logiciel d'origine ; si le document est authentique, l'administrateur "
                "peut relever la limite (ASSESSOR_INGEST__MAX_PAGE_CONTENT_MB).",
            )


def read_pdf(
    name: str,
    data: bytes,
    *,
    max_pages: int,
    max_page_content_mb: float = 20,
    ocr: bool,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[PdfPage], list[str]]:
    """Read every page of a PDF. Returns the pages and French warnings; raises ``IngestError``."""
    _check_page_count(name, _pdfium_page_count(data), max_pages)  # before pypdf walks a page tree of any size
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
    _check_page_count(name, count, max_pages)
    for number, page in enumerate(reader.pages, start=1):
        try:
            _check_page_content(name, number, page, max_page_content_mb)
        except (PdfReadError, PdfStreamError, KeyError, ValueError, TypeError, AttributeError):
            continue  # a page pypdf cannot walk: pdfium reads what it can, in the worker's bounds
    pages: list[PdfPage] = []
    warnings: list[str] = []
    try:
        with PDFIUM_LOCK:
            document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise IngestError(
            IngestErrorCode.PDF_CORRUPT,
            name,
            f"le PDF est endommagé ou tronqué ({exc}).",
            "Ré-exportez-le depuis le logiciel d'origine ou demandez une nouvelle copie au candidat.",
        ) from exc
    try:
        for index, page in enumerate(reader.pages):
            try:
                with PDFIUM_LOCK:
                    layout = read_layout(document[index])
            except Exception as exc:  # one unreadable page does not lose the others
                warnings.append(f"page {index + 1} : texte illisible ({type(exc).__name__}), page ignorée")
                layout = None
            text = layout.text if layout is not None else ""
            scanned = len(re.sub(r"\s", "", text)) < MIN_TEXT_CHARS and _has_images(page)
            pages.append(PdfPage(layout, scanned=scanned))
            if progress:
                progress("lecture", index + 1, count)
    finally:
        with PDFIUM_LOCK:
            document.close()
    scanned_pages = [i for i, p in enumerate(pages) if p.scanned]
    if scanned_pages:
        why_not = tesseract_status() if ocr else "l'OCR est désactivé (--no-ocr)"
        if why_not is None:
            for done, i in enumerate(scanned_pages, start=1):
                try:
                    pages[i] = PdfPage(None, text=ocr_pdf_page(data, i), scanned=True, ocr=True)
                except (RuntimeError, OSError) as exc:
                    warnings.append(f"page {i + 1} : OCR impossible ({exc})")
                if progress:  # a few seconds a page: the bar moves page by page
                    progress("OCR", done, len(scanned_pages))
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
