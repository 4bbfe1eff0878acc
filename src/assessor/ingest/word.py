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
from xml.etree.ElementTree import ParseError

from assessor.ingest.errors import IngestError, IngestErrorCode

_HEADING = re.compile(r"^(?:heading|titre|überschrift)\s*(\d)$", re.I)


def _heading_level(style_name: str) -> int | None:
    if style_name.casefold() in ("title", "titre"):
        return 1
    match = _HEADING.match(style_name.strip())
    return int(match.group(1)) if match else None


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
