"""Render the sample dossiers and resolve the pages of their labels.

    python sample_dossiers/build.py [FOLDER ...] [--out DIR]

For each folder (all of them by default): reads ``source.md`` and ``labels.yaml``, writes
``dossier.pdf`` (cover page, table of contents, running header and footer with "page X / N",
tables), ``dossier.docx`` when the front matter says ``docx: true``, and ``labels.json``: the
labels with, for every quote, the file and the page where it is printed. It stops with a
clear message when a label names an unknown criterion, misses one, or quotes text that is
not in the dossier. Output is deterministic, so a test can rebuild into a temporary folder
and compare.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import BaseDocTemplate, PageTemplate
from reportlab.platypus.frames import Frame
from reportlab.platypus.tableofcontents import TableOfContents

from assessor.ingest import load_file
from assessor.ingest.normalize import normalize_text
from assessor.library import Library
from assessor.settings import Settings

HERE = Path(__file__).resolve().parent
OUTCOMES = {"acquis", "partiellement_acquis", "non_acquis", "preuves_insuffisantes", "non_evaluable_ecrit"}
PAGEBREAK = "<<<pagebreak>>>"


class BuildError(Exception):
    pass


# --- source.md --------------------------------------------------------------------------


@dataclass
class Element:
    kind: str  # heading, paragraph, list, table, pagebreak
    level: int = 0
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def parse_source(text: str) -> tuple[dict[str, Any], list[Element]]:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        raise BuildError("source.md must start with a front matter between two '---' lines")
    meta: dict[str, Any] = yaml.safe_load(match.group(1))
    elements: list[Element] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            elements.append(Element("paragraph", text=" ".join(paragraph)))
            paragraph.clear()

    for raw in text[match.end() :].split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line == PAGEBREAK:
            flush()
            elements.append(Element("pagebreak"))
        elif heading := re.match(r"^(#{1,3})\s+(.*)$", line):
            flush()
            elements.append(Element("heading", level=len(heading.group(1)), text=heading.group(2)))
        elif line.startswith("- "):
            flush()
            if not elements or elements[-1].kind != "list":
                elements.append(Element("list"))
            elements[-1].items.append(line[2:].strip())
        elif line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue  # the separator row
            if not elements or elements[-1].kind != "table":
                elements.append(Element("table"))
            elements[-1].rows.append(cells)
        elif elements and elements[-1].kind == "list" and not paragraph and raw.startswith("  "):
            elements[-1].items[-1] += " " + line  # continuation of a list item
        else:
            paragraph.append(line)
    flush()
    return meta, elements


# --- PDF ----------------------------------------------------------------------------------

_FONTS_READY = False


def _register_fonts() -> None:
    global _FONTS_READY
    if _FONTS_READY:
        return
    # reportlab ships Bitstream Vera: no system font needed, accents and ’ « » œ € covered.
    for name, file in (
        ("Vera", "Vera.ttf"),
        ("Vera-Bold", "VeraBd.ttf"),
        ("Vera-Italic", "VeraIt.ttf"),
        ("Vera-BoldItalic", "VeraBI.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, file))
    pdfmetrics.registerFontFamily(
        "Vera", normal="Vera", bold="Vera-Bold", italic="Vera-Italic", boldItalic="Vera-BoldItalic"
    )
    _FONTS_READY = True


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Vera", fontSize=9.5, leading=12.5, spaceAfter=6)
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=11, spaceAfter=0),
        "h1": ParagraphStyle(
            "h1",
            parent=body,
            fontName="Vera-Bold",
            fontSize=15,
            leading=19,
            spaceBefore=12,
            spaceAfter=8,
            textColor=colors.HexColor("#1f3b5a"),
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName="Vera-Bold",
            fontSize=12,
            leading=16,
            spaceBefore=8,
            spaceAfter=4,
            textColor=colors.HexColor("#1f3b5a"),
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=body,
            fontName="Vera-BoldItalic",
            fontSize=10.5,
            leading=14,
            spaceBefore=6,
            spaceAfter=3,
        ),
        "title": ParagraphStyle(
            "title",
            parent=body,
            fontName="Vera-Bold",
            fontSize=24,
            leading=30,
            alignment=TA_CENTER,
            spaceAfter=16,
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=body, fontSize=14, leading=20, alignment=TA_CENTER, spaceAfter=16
        ),
        "cover": ParagraphStyle("cover", parent=body, fontSize=11, leading=16, alignment=TA_CENTER),
        "toc1": ParagraphStyle(
            "toc1",
            parent=body,
            fontName="Vera-Bold",
            fontSize=9.5,
            leading=12,
            leftIndent=10,
            firstLineIndent=-10,
            spaceBefore=3,
            spaceAfter=0,
        ),
        "toc2": ParagraphStyle(
            "toc2", parent=body, fontSize=8.5, leading=10.5, leftIndent=28, firstLineIndent=-10, spaceAfter=0
        ),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _DossierTemplate(BaseDocTemplate):
    def __init__(self, path: Path, meta: dict[str, Any], total: int | None) -> None:
        super().__init__(
            str(path),
            pagesize=A4,
            leftMargin=2.0 * cm,
            rightMargin=2.0 * cm,
            topMargin=2.2 * cm,
            bottomMargin=2.0 * cm,
            title=str(meta["title"]),
            author=str(meta["candidate"]),
            invariant=1,
        )
        self.meta = meta
        self.total = total
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    def _decorate(self, canvas: Any, doc: Any) -> None:
        if doc.page == 1:
            return  # the cover has no running header or footer
        canvas.saveState()
        canvas.setFont("Vera", 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        top = A4[1] - 1.4 * cm
        canvas.drawString(self.leftMargin, top, f"{self.meta['candidate']} — {self.meta['title']}")
        canvas.drawRightString(A4[0] - self.rightMargin, top, str(self.meta.get("organisation", "")))
        canvas.line(self.leftMargin, top - 4, A4[0] - self.rightMargin, top - 4)
        canvas.drawString(self.leftMargin, 1.2 * cm, str(self.meta.get("session", "")))
        total = f" / {self.total}" if self.total else ""
        canvas.drawRightString(A4[0] - self.rightMargin, 1.2 * cm, f"Page {doc.page}{total}")
        canvas.restoreState()

    def afterFlowable(self, flowable: Any) -> None:
        level = getattr(flowable, "toc_level", None)
        if level is not None:
            self.notify("TOCEntry", (level, flowable.getPlainText(), self.page))


def _story(meta: dict[str, Any], elements: list[Element]) -> list[Any]:
    st = _styles()
    story: list[Any] = [
        Spacer(1, 1.5 * cm),
        Paragraph(_esc(str(meta["title"])), st["title"]),
        Paragraph(_esc(str(meta.get("subtitle", ""))), st["subtitle"]),
        Paragraph(f"Candidat·e : {_esc(str(meta['candidate']))}", st["cover"]),
        Paragraph(_esc(str(meta.get("organisation", ""))), st["cover"]),
        Paragraph(_esc(str(meta.get("session", ""))), st["cover"]),
        Spacer(1, 1.2 * cm),
        Paragraph("Sommaire", st["h1"]),
    ]
    toc = TableOfContents(
        tableStyle=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    toc.levelStyles = [st["toc1"], st["toc2"]]
    story += [toc, PageBreak()]
    for el in elements:
        if el.kind == "heading":
            para = Paragraph(_esc(el.text), st[f"h{el.level}"])
            if el.level <= 2:
                para.toc_level = el.level - 1  # type: ignore[attr-defined]
            story.append(para)
        elif el.kind == "paragraph":
            story.append(Paragraph(_esc(el.text), st["body"]))
        elif el.kind == "list":
            items = [ListItem(Paragraph(_esc(item), st["body"]), leftIndent=14) for item in el.items]
            story.append(ListFlowable(items, bulletType="bullet", start="•", leftIndent=14, bulletFontName="Vera"))
        elif el.kind == "table":
            rows = [[Paragraph(_esc(cell), st["cell"]) for cell in row] for row in el.rows]
            width = A4[0] - 4.0 * cm
            table = Table(rows, colWidths=[width / len(el.rows[0])] * len(el.rows[0]), repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8899aa")),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6ef")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story += [table, Spacer(1, 8)]
        elif el.kind == "pagebreak":
            story.append(PageBreak())
    return story


def _check_glyphs(elements: list[Element]) -> None:
    """Refuse characters the font cannot draw: they would print as empty boxes."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    font = pdfmetrics.getFont("Vera").face
    covered = set(font.charToGlyph) if hasattr(font, "charToGlyph") else set(TTFontFile("Vera.ttf").charToGlyph)
    text = "".join(e.text + "".join(e.items) + "".join(c for row in e.rows for c in row) for e in elements)
    missing = sorted({c for c in text if ord(c) > 127 and ord(c) not in covered})
    if missing:
        raise BuildError(f"characters the PDF font cannot print: {' '.join(missing)} (replace them in source.md)")


def render_pdf(meta: dict[str, Any], elements: list[Element], path: Path) -> None:
    _register_fonts()
    _check_glyphs(elements)
    # Two builds, each with fresh flowables (reportlab marks the ones it moved to the next
    # page): the first counts the pages so that the footer can say "page X / N".
    first = _DossierTemplate(path, meta, total=None)
    first.multiBuild(_story(meta, elements))
    _DossierTemplate(path, meta, total=first.page).multiBuild(_story(meta, elements))


# --- DOCX ---------------------------------------------------------------------------------


def render_docx(meta: dict[str, Any], elements: list[Element], path: Path) -> None:
    import datetime

    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    props = document.core_properties
    props.author = str(meta["candidate"])
    props.title = str(meta["title"])
    fixed = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    props.created = props.modified = fixed
    props.last_modified_by = str(meta["candidate"])
    section = document.sections[0]
    section.header.paragraphs[0].text = f"{meta['candidate']} — {meta['title']}\t\t{meta.get('organisation', '')}"
    section.footer.paragraphs[0].text = str(meta.get("session", ""))
    document.add_heading(str(meta["title"]), level=0)
    for line in (
        meta.get("subtitle"),
        f"Candidat·e : {meta['candidate']}",
        meta.get("organisation"),
        meta.get("session"),
    ):
        if line:
            document.add_paragraph(str(line))
    document.add_heading("Sommaire", level=1)
    for el in elements:
        if el.kind == "heading" and el.level <= 2:
            document.add_paragraph(("    " if el.level == 2 else "") + el.text)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    for el in elements:
        if el.kind == "heading":
            document.add_heading(el.text, level=el.level)
        elif el.kind == "paragraph":
            document.add_paragraph(el.text)
        elif el.kind == "list":
            for item in el.items:
                document.add_paragraph(item, style="List Bullet")
        elif el.kind == "table":
            table = document.add_table(rows=len(el.rows), cols=len(el.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(el.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif el.kind == "pagebreak":
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.save(str(path))


# --- labels -------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", normalize_text(text)).strip()


def _pages_of(quote: str, pages: list[str]) -> tuple[int, int]:
    """First and last page (1-based) on which the quote is printed, across at most one page break."""
    needle = _norm(quote)
    for i, page in enumerate(pages):
        if needle in page:
            return i + 1, i + 1
    for i in range(len(pages) - 1):
        joined = pages[i] + " " + pages[i + 1]
        pos = joined.find(needle)
        if 0 <= pos < len(pages[i]) < pos + len(needle):
            return i + 1, i + 2
    raise BuildError(f"quote not found in the rendered PDF: {quote!r}")


def resolve_labels(folder: Path, meta: dict[str, Any], source: str, pdf: Path) -> dict[str, Any]:
    labels = yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))
    library = Library.from_settings(Settings())
    ref = library.get(str(labels["referential"]))
    block = ref.block(str(labels["block"]))
    if (labels["referential"], labels["block"]) != (meta["referential"], meta["block"]):
        raise BuildError("labels.yaml and the front matter of source.md name different blocks")
    expected = [c.id for c in ref.criteria_of(block.code)]
    given = list(labels["criteria"])
    missing, unknown = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if missing or unknown:
        raise BuildError(f"labels.yaml: missing criteria {missing}, unknown criteria {unknown}")
    flat_source = _norm(source)
    # Pages as Assessor's ingestion reads them (running header and footer removed), so that a
    # gold page is the page retrieval sees, and a quote across a page break is still found.
    pages = [_norm(page.text) for page in load_file(pdf).pages]

    def locate(quote: str) -> dict[str, Any]:
        if _norm(quote) not in flat_source:
            raise BuildError(f"quote is not verbatim in source.md: {quote!r}")
        first, last = _pages_of(quote, pages)
        located: dict[str, Any] = {"quote": quote, "file": "dossier.pdf", "page": first}
        if last != first:
            located["page_end"] = last
        return located

    criteria = []
    for crit_id in expected:
        entry = labels["criteria"][crit_id]
        outcome = entry["outcome"]
        if outcome not in OUTCOMES:
            raise BuildError(f"{crit_id}: unknown outcome {outcome!r}")
        evidence = [locate(q) for q in entry.get("evidence") or []]
        if outcome in ("acquis", "partiellement_acquis") and not evidence:
            raise BuildError(f"{crit_id}: a positive outcome needs at least one quote")
        if outcome in ("preuves_insuffisantes", "non_evaluable_ecrit") and evidence:
            raise BuildError(f"{crit_id}: {outcome} takes no evidence")
        criteria.append(
            {
                "criterion_id": crit_id,
                "outcome": outcome,
                "comment": entry.get("comment", ""),
                "evidence": evidence,
            }
        )
    files = [{"name": "dossier.pdf", "pages": len(pages)}]
    if meta.get("docx"):
        files.append({"name": "dossier.docx", "pages": None})
    return {
        "dossier": labels["dossier"],
        "referential": ref.id,
        "referential_version": ref.version,
        "block": block.code,
        "candidate": meta["candidate"],
        "files": files,
        "criteria": criteria,
        "distractors": [
            {"criterion_id": d["criterion"], **locate(d["quote"])} for d in labels.get("distractors") or []
        ],
        "injections": [locate(q) for q in labels.get("injections") or []],
    }


def build(folder: Path, out: Path | None = None) -> dict[str, Any]:
    out = out or folder
    out.mkdir(parents=True, exist_ok=True)
    source = (folder / "source.md").read_text(encoding="utf-8")
    meta, elements = parse_source(source)
    pdf = out / "dossier.pdf"
    render_pdf(meta, elements, pdf)
    if meta.get("docx"):
        render_docx(meta, elements, out / "dossier.docx")
    labels = resolve_labels(folder, meta, source, pdf)
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", help="dossier folders (default: every folder with a source.md)")
    parser.add_argument("--out", type=Path, help="write the outputs here instead of in each folder")
    args = parser.parse_args(argv)
    names = args.folders or sorted(p.parent.name for p in HERE.glob("*/source.md"))
    status = 0
    for name in names:
        folder = HERE / name
        try:
            labels = build(folder, args.out / name if args.out else None)
        except (BuildError, KeyError, OSError, yaml.YAMLError) as exc:
            print(f"{name}: ERROR: {exc}", file=sys.stderr)
            status = 1
            continue
        outcomes: dict[str, int] = {}
        for crit in labels["criteria"]:
            outcomes[crit["outcome"]] = outcomes.get(crit["outcome"], 0) + 1
        print(f"{name}: {labels['files'][0]['pages']} pages, {len(labels['criteria'])} criteria {outcomes}")
    return status


if __name__ == "__main__":
    sys.exit(main())
