"""The pre-reading report as a file of any format, chosen by its extension.

JSON, Markdown and HTML are ``assessor.report``'s renderings. PDF and DOCX lay out the
Markdown rendering (the same text, headings, tables and lists: one source for what the report
says), with the fonts and the cleaning of the jury's grids (``assessor.review.exports``). CSV
gives one row per criterion, with French column names, for a spreadsheet. Every format is
rendered from the report with its secrets masked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from assessor.redaction import redact_model
from assessor.report import ReportFormat, render
from assessor.results import FLAG_SHORT_LABELS, STATUS_LABELS, Flag, Report
from assessor.review.exports import clean_text, csv_cell, docx_field, pdf_fonts
from assessor.wording import blocks_named


def _markdown(report: Report) -> str:
    return render(report, ReportFormat.MD)


# --- The Markdown rendering, as blocks -----------------------------------------------------


@dataclass
class _Block:
    """A heading (level 1-3), the notice, a paragraph, a list or a table (first row: header)."""

    kind: str
    text: str = ""
    level: int = 0
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


_HEADING = re.compile(r"(#{1,3}) (.*)")
_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR = re.compile(r"\|?\s*:?-{3,}.*")


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in _PIPE.split(inner)]


def _blocks(markdown: str) -> Iterator[_Block]:
    """The report's Markdown (``assessor.report``: headings, a quoted notice, « - » lists, pipe
    tables, paragraphs) as blocks."""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING.fullmatch(line)
        if not line.strip():
            i += 1
        elif heading:
            yield _Block("heading", heading.group(2), level=len(heading.group(1)))
            i += 1
        elif line.startswith("> "):
            yield _Block("notice", line[2:])
            i += 1
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(lines[i][2:].replace("\\|", "|"))
                i += 1
            yield _Block("list", items=items)
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not _SEPARATOR.fullmatch(lines[i].strip()):
                    rows.append(_cells(lines[i]))
                i += 1
            yield _Block("table", rows=rows)
        else:
            text = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                text.append(lines[i])
                i += 1
            yield _Block("paragraph", " ".join(text).replace("\\|", "|"))


def _starts_block(line: str) -> bool:
    return bool(_HEADING.fullmatch(line)) or line.startswith(("> ", "- ", "|"))


_INLINE = re.compile(r"\*\*(?P<bold>[^*]+)\*\*|\*(?P<italic>[^*]+)\*|`(?P<code>[^`]+)`")


def _runs(text: str) -> Iterator[tuple[str, str]]:
    """(style, text) runs of a line: style is '', 'b' (**bold**), 'i' (*italic*) or 'code' (`code`)."""
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            yield "", text[position : match.start()]
        style = "b" if match.group("bold") else "i" if match.group("italic") else "code"
        yield style, match.group(match.lastgroup or "code")
        position = match.end()
    if position < len(text):
        yield "", text[position:]


# --- PDF -------------------------------------------------------------------------------------


def report_pdf(report: Report) -> bytes:
    """The report on A4 pages: its Markdown rendering laid out, with page numbers."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        CondPageBreak,
        Paragraph,
        SimpleDocTemplate,
        Table,
        TableStyle,
    )

    report = redact_model(report)
    regular, bold, italic = pdf_fonts()
    ink, grid, notice_bg = colors.HexColor("#1d2733"), colors.HexColor("#aab4c0"), colors.HexColor("#fff7e0")
    page_w = A4[0]
    margin = 15 * mm
    width = page_w - 2 * margin

    def style(name: str, **kw: Any) -> Any:
        return ParagraphStyle(name, **{"fontName": regular, "fontSize": 9, "leading": 12, "textColor": ink, **kw})

    styles = {
        1: style("h1", fontName=bold, fontSize=16, leading=20, spaceAfter=8),
        2: style("h2", fontName=bold, fontSize=13, leading=16, spaceBefore=10, spaceAfter=6),
        3: style("h3", fontName=bold, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3, keepWithNext=1),
    }
    body = style("body", spaceBefore=2, spaceAfter=5)
    cell = style("cell", fontSize=8, leading=10)
    head = style("head", fontName=bold, fontSize=8, leading=10, textColor=colors.white)
    item = style("item", leftIndent=10, bulletIndent=2, spaceAfter=2)

    def markup(text: str) -> str:
        parts = []
        for kind, run in _runs(text):
            shown = escape(clean_text(run))
            parts.append({"b": f"<b>{shown}</b>", "i": f"<i>{shown}</i>", "code": f"<i>{shown}</i>"}.get(kind, shown))
        return "".join(parts)

    story: list[Any] = []
    for block in _blocks(_markdown(report)):
        if block.kind == "heading":
            if block.level == 2:  # a block's table may run over pages: its heading only needs a few rows
                story.append(CondPageBreak(40 * mm))
            story.append(Paragraph(markup(block.text), styles[block.level]))
        elif block.kind == "notice":
            box = Table([[Paragraph(markup(block.text), body)]], colWidths=[width])
            box.setStyle(
                TableStyle([("BACKGROUND", (0, 0), (-1, -1), notice_bg), ("FONTNAME", (0, 0), (-1, -1), regular)])
            )
            story.append(box)
        elif block.kind == "list":
            story += [Paragraph(markup(text), item, bulletText="•") for text in block.items]
        elif block.kind == "table":
            columns = len(block.rows[0])
            first = 0.55 if columns > 2 else 0.6
            widths = [first * width] + [(1 - first) * width / (columns - 1)] * (columns - 1)
            data = [
                [Paragraph(markup(text), head if r == 0 else cell) for text in row] for r, row in enumerate(block.rows)
            ]
            table = Table(data, colWidths=widths, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, -1), regular),  # empty cells too: no Helvetica to embed
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#3b4a5c")),
                        ("GRID", (0, 0), (-1, -1), 0.4, grid),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(table)
        else:
            story.append(Paragraph(markup(block.text), body))

    title = clean_text(f"Pré-lecture du dossier {report.dossier.id}")

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(italic, 7)
        canvas.setFillColor(ink)
        canvas.drawString(margin, 8 * mm, f"{title} — {report.referential.id} — proposition de la machine")
        canvas.drawRightString(page_w - margin, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=15 * mm,
        title=title,
        author="Assessor (pré-lecture, sans valeur de décision)",
        subject=clean_text(f"{report.referential.title} — {blocks_named(report.referential.blocks)}"),
        creator="Assessor",
        lang="fr-FR",
        invariant=1,
        initialFontName=regular,
    )
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


# --- DOCX ------------------------------------------------------------------------------------


def report_docx(report: Report) -> bytes:
    """The report as a Word document: its Markdown rendering with Word's headings, lists and tables."""
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    report = redact_model(report)
    document = Document()
    document.styles["Normal"].font.size = Pt(10)
    properties = document.core_properties
    properties.title = clean_text(f"Pré-lecture du dossier {report.dossier.id}")[:255]
    properties.author = "Assessor (pré-lecture, sans valeur de décision)"
    properties.language = "fr-FR"
    properties.created = properties.modified = report.created_at
    footer = document.sections[0].footer.paragraphs[0]
    footer.add_run(clean_text(f"Pré-lecture du dossier {report.dossier.id} — page "))
    docx_field(footer, "PAGE", OxmlElement, qn)

    def write(paragraph: Any, text: str, *, bold: bool = False) -> None:
        for kind, run_text in _runs(text):
            run = paragraph.add_run(clean_text(run_text))
            run.bold = bold or kind == "b" or None
            run.italic = kind in ("i", "code") or None

    for block in _blocks(_markdown(report)):
        if block.kind == "heading":
            write(document.add_heading(level=block.level - 1), block.text)  # « # » is the title
        elif block.kind == "notice":
            write(document.add_paragraph(style="Intense Quote"), block.text)
        elif block.kind == "list":
            for text in block.items:
                write(document.add_paragraph(style="List Bullet"), text)
        elif block.kind == "table":
            table = document.add_table(rows=0, cols=len(block.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                cells = table.add_row().cells
                for target, text in zip(cells, row, strict=False):
                    write(target.paragraphs[0], text, bold=r == 0)
        else:
            write(document.add_paragraph(), block.text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    "critère",
    "bloc",
    "texte du critère",
    "proposition",
    "code de la proposition",
    "statut",
    "citations",
    "citations vérifiées",
    "alertes",
    "justification",
    "éléments non trouvés",
    "conseil",
    "repérage sans IA",
)


def report_csv(report: Report) -> bytes:
    """One row per criterion (« ; » separated, UTF-8 with a BOM for spreadsheets in French)."""
    report = redact_model(report)
    labels = report.outcome_labels
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in report.criteria:
        row = [
            r.criterion_id,
            r.block,
            r.criterion_text,
            labels.get(r.outcome, r.outcome),
            r.outcome,
            STATUS_LABELS[r.status],
            len(r.citations),
            sum(c.verified for c in r.citations),
            " ; ".join(FLAG_SHORT_LABELS[f] for f in r.flags if f is not Flag.EVIDENCE_ONLY),
            r.rationale,
            " ; ".join(r.missing),
            r.feedback,
            labels.get(r.baseline_outcome, r.baseline_outcome) if r.baseline_outcome else "",
        ]
        writer.writerow([csv_cell(clean_text(str(value))) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


REPORT_WRITERS: dict[str, Callable[[Report], str | bytes]] = {
    "json": lambda report: render(report, ReportFormat.JSON),
    "md": _markdown,
    "html": lambda report: render(report, ReportFormat.HTML),
    "pdf": report_pdf,
    "docx": report_docx,
    "csv": report_csv,
}
"""How a report is written, by the extension of the file (``assessor assess -o rapport.pdf``)."""
