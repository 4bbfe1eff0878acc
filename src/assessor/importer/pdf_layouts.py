"""Référentiel layouts read from a PDF's page layout (``ingest.layout``): the Titre professionnel's
RC, whose « Compétences professionnelles | Critères d'évaluation » tables are read by column.

The layout gives each line's runs with their horizontal position; the table's header says where
the criteria column starts. In the competency column a run that starts with a capital opens a
competency, one that starts with a small letter continues it; the same in the criteria column.
An activity title printed alone across the table opens a block. A table that goes on over a page
break goes on with the same competency: the header is printed again, the competency is not. A
run that straddles both columns (pdfium did not see the gap) is cut at the capitalised word
nearest to where the criteria column starts.
"""

from __future__ import annotations

import re

from assessor.importer.reading import ReadBlock, ReadCompetency, ReadCriterion, Reading, SourceKind, Unread
from assessor.importer.split import clean
from assessor.ingest.layout import Line, PageLayout, Run
from assessor.referential import Provenance

_CRITERIA_HEADER = re.compile(r"^Critères d[’']évaluation$")
_COMPETENCY_HEADER = re.compile(r"^Compétences (professionnelles|transversales)$")
_END = re.compile(r"^(Libellé abrégé|Obligations règlementaires|\* Il n[’']y a pas|REFERENTIEL DE CERTIFICATION)")
MODALITY_COLUMNS_SHARE = 0.63
"""Beyond this share of the page width stand the modality columns (crosses), not criteria."""


def _header(line: Line) -> tuple[str, float] | None:
    """(« professionnelles » or « transversales », x where the criteria column starts) for a table header."""
    kinds = [m.group(1) for r in line.runs if (m := _COMPETENCY_HEADER.match(r.text.strip()))]
    criteria = [r for r in line.runs if _CRITERIA_HEADER.match(r.text.strip())]
    if not kinds or not criteria:
        return None
    return kinds[0], criteria[0].x0


def is_rc(layouts: list[PageLayout | None]) -> bool:
    return any(_header(line) for layout in layouts if layout for line in layout.lines)


def read_rc(file: str, layouts: list[PageLayout | None]) -> Reading:
    """The competencies and criteria of an RC's evaluation tables, by page."""
    reading = Reading(file=file, kind=SourceKind.RC)
    block: ReadBlock | None = None
    competency: ReadCompetency | None = None
    column_x: float | None = None  # where the criteria column starts, as the last table showed it
    for number, layout in enumerate(layouts, start=1):
        if layout is None:
            continue
        where = Provenance(file=file, page=number)
        split_x: float | None = None
        before = reading.criteria_count
        column_x = _criteria_column(layout) or column_x
        for page_block in layout.blocks:
            for line in page_block.lines:
                if (header := _header(line)) is not None:
                    kind, header_x = header
                    # The header is centred over its column: the table's own column edge is better.
                    split_x = column_x if column_x is not None and column_x < header_x else header_x
                    if kind == "transversales":
                        block = ReadBlock(title="Compétences transversales", provenance=where)
                        reading.blocks.append(block)
                        competency = None
                    continue
                if split_x is None:
                    continue
                if _END.match(line.text):
                    split_x = None
                    break
                left, right = _cells(line, split_x, layout.width)
                if left and not right and page_block.table is None and left[0].isupper() and len(line.runs) == 1:
                    block = ReadBlock(title=left, provenance=where)  # an activity printed across the table
                    reading.blocks.append(block)
                    competency = None
                    continue
                if left:
                    if competency is not None and not left[0].isupper():
                        competency.statement = clean(f"{competency.statement} {left}")
                    else:
                        if block is None:
                            block = ReadBlock(title="Compétences professionnelles", provenance=where)
                            reading.blocks.append(block)
                        competency = ReadCompetency(statement=left, provenance=where)
                        block.competencies.append(competency)
                if right and competency is not None:
                    if competency.criteria and not right[0].isupper():
                        last = competency.criteria[-1]
                        last.text = clean(f"{last.text} {right}")
                    else:
                        competency.criteria.append(ReadCriterion(text=right, provenance=where))
        if split_x is not None and reading.criteria_count == before and _has_header(layout):
            reading.unread.append(Unread(where, "tableau de critères sans critère lisible"))
    return reading


def _criteria_column(layout: PageLayout) -> float | None:
    """The left edge of the criteria column on this page: the second column of a two-column table
    that starts at the page's left margin, below a table header."""
    seen_header = False
    for page_block in layout.blocks:
        seen_header = seen_header or any(_header(line) for line in page_block.lines)
        two_columns = page_block.table is not None and len(page_block.columns) == 2
        if seen_header and two_columns and page_block.columns[0] < layout.width * 0.15:
            return page_block.columns[1]
    return None


def _has_header(layout: PageLayout) -> bool:
    return any(_header(line) for line in layout.lines)


def _cells(line: Line, split_x: float, width: float) -> tuple[str, str]:
    """The text of a line in the competency column and in the criteria column."""
    left: list[str] = []
    right: list[str] = []
    limit = width * MODALITY_COLUMNS_SHARE
    for run in line.runs:
        if run.x0 >= limit:
            continue
        if run.x1 <= split_x + 2:
            left.append(run.text)
        elif run.x0 >= split_x - 8:
            right.append(run.text)
        else:
            head, tail = _cut(run, split_x)
            left.append(head)
            right.append(tail)
    return clean(" ".join(left)), clean(" ".join(right))


def _cut(run: Run, split_x: float) -> tuple[str, str]:
    """Cut a run that straddles the column start at the capitalised word nearest to it."""
    share = (split_x - run.x0) / max(run.x1 - run.x0, 1.0)
    guess = share * len(run.text)
    starts = [m.start() for m in re.finditer(r"(?<=\s)[A-ZÀÂÉÈÊÎÔÛL]", run.text)]
    if not starts:
        return run.text, ""
    cut = min(starts, key=lambda s: abs(s - guess))
    return run.text[:cut], run.text[cut:]
