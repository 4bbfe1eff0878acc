"""DOCX with python-docx: headings, paragraphs, lists and tables, in document order.

A DOCX has no pages; its text is split into sections at each top-level heading, and a
citation names the section (and the chunk's paragraph) instead of a page. Headings are
written with Markdown ``#`` marks, list items with ``- `` and table rows with `` | ``, so
that the chunker reads the same structure as from Markdown.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import ParseError

from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.ingest.text import thousands

_RATIO_FLOOR = 1_000_000  # below 1 MB decompressed, a part's ratio says nothing worth refusing for
_BOMB_HINT = (
    "Ouvrez le document dans Word ou LibreOffice et enregistrez-le à nouveau, ou exportez-le en PDF ; "
    "si le document est authentique, l'administrateur peut relever la limite ({setting})."
)

_HEADING = re.compile(r"^(?:heading|titre|überschrift)\s*(\d)$", re.I)


def _heading_level(style_name: str) -> int | None:
    if style_name.casefold() in ("title", "titre"):
        return 1
    match = _HEADING.match(style_name.strip())
    return int(match.group(1)) if match else None


def check_archive(path: Path, *, max_entries: int, max_unzipped_mb: float, max_ratio: float) -> None:
    """Refuse a DOCX whose zip directory announces a bomb, before any part is decompressed.

    The directory's sizes are those zipfile holds each part to when it is read (it stops at the
    declared size), so checking them bounds what python-docx can inflate.
    """
    name = path.name
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    if len(entries) > max_entries:
        raise IngestError(
            IngestErrorCode.ARCHIVE_BOMB,
            name,
            f"le document Word contient {thousands(len(entries))} parties, au-delà de la limite de "
            f"{thousands(max_entries)}.",
            _BOMB_HINT.format(setting="ASSESSOR_INGEST__MAX_ZIP_ENTRIES"),
        )
    total = sum(entry.file_size for entry in entries)
    if total > max_unzipped_mb * 1_000_000:
        raise IngestError(
            IngestErrorCode.ARCHIVE_BOMB,
            name,
            f"le document Word se décompresse en {total / 1_000_000:.0f} Mo, au-delà de la limite de "
            f"{max_unzipped_mb:.0f} Mo.",
            _BOMB_HINT.format(setting="ASSESSOR_INGEST__MAX_UNZIPPED_MB"),
        )
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_FLOOR and ratio > max_ratio:
            raise IngestError(
                IngestErrorCode.ARCHIVE_BOMB,
                name,
                f"la partie « {entry.filename[:80]} » du document Word est compressée {ratio:.0f} fois "
                f"({entry.file_size / 1_000_000:.0f} Mo décompressés), au-delà de la limite de {max_ratio:.0f} : "
                "c'est la marque d'une bombe de décompression.",
                _BOMB_HINT.format(setting="ASSESSOR_INGEST__MAX_ZIP_RATIO"),
            )


def read_docx(name: str, data: bytes) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Sections as (title, text), the running header lines and footer lines."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ParseError, ValueError) as exc:
        raise IngestError(
            IngestErrorCode.DOCX_CORRUPT,
            name,
            f"le document Word est endommagé ({exc}).",
            "Ouvrez-le dans Word ou LibreOffice, enregistrez-le à nouveau en .docx ou exportez-le en PDF.",
        ) from exc
    sections: list[tuple[str, list[str]]] = [("", [])]
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            level = _heading_level(style or "")
            if level == 1 and sections[-1][1]:
                sections.append((text, []))
            elif level == 1:
                sections[-1] = (text, sections[-1][1])
            numbered = item._p.pPr is not None and item._p.pPr.numPr is not None
            if level is not None:
                sections[-1][1].append("#" * level + " " + text)
            elif "list" in (style or "").casefold() or numbered:
                sections[-1][1].append("- " + text)
            else:
                sections[-1][1].append(text)
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if not cells or cells[-1] != value:  # merged cells repeat their text
                        cells.append(value)
                rows.append(" | ".join(cells))
            sections[-1][1].append("\n".join(rows))
    headers: list[str] = []
    footers: list[str] = []
    for section in document.sections:
        headers += [p.text.strip() for p in section.header.paragraphs if p.text.strip()]
        footers += [p.text.strip() for p in section.footer.paragraphs if p.text.strip()]
    result = [(title, "\n\n".join(blocks)) for title, blocks in sections if blocks]
    return result, list(dict.fromkeys(headers)), list(dict.fromkeys(footers))
