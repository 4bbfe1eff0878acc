"""A PDF page's text in reading order, from the position of every character (pdfium).

pypdf's text extraction either loses a page's geometry (plain mode: a table's cells come out
one line each) or guesses spaces from a character grid (layout mode: on many real PDFs words
run together, « utilisonsdes », and justified prose, whose word gaps vary, is read as a table).
This module reads pdfium's characters with their boxes instead:

1. **Runs.** Characters are taken in pdfium's order, with the spaces it generates; a run is a
   stretch on one baseline without a wide gap (more than ``COLUMN_GAP`` times the text height:
   wider than any justified word gap measured on the sample and real dossiers, narrower than
   the gap between table columns or page columns).
2. **Lines** gather the runs that share a baseline, left to right.
3. **Regions.** Consecutive lines with several runs whose starts line up form a grid. A grid
   with ruling lines, with three columns or more, or with short cells is a **table**: one line
   per row, cells separated by `` | ``, a wrapped cell joined to its row. A two-column grid of
   long, dense lines without ruling lines is **two-column prose**: read column by column.
   Justified prose never has aligned gaps, so it never becomes a grid.
4. **Paragraphs** are separated by a blank line where the space between lines is wider than
   the page's usual line spacing, or where the text size changes (a heading, which also gets a
   block of its own).

Private-use bullet glyphs (Symbol/Wingdings, U+F0B7 and the like) become « • »; other
private-use characters are dropped. Each page also reports what a reader should know:
two-column reading, rotation, vertical text set aside, text that looks garbled.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
import threading
from dataclasses import dataclass, field
from typing import Any

PDFIUM_LOCK = threading.RLock()
"""pdfium is not thread-safe: every call into it (here and when pages are rendered) holds this lock."""

COLUMN_GAP = 1.2
"""A gap wider than this many text heights separates two runs (table cells, page columns)."""

SPACE_GAP = 0.2
"""A gap wider than this many text heights is a space even where pdfium put none. Character boxes
are pdfium's loose boxes (advance width by font height): within a word they touch."""

GUTTER_MIN_LINES = 6
"""A gutter between two columns has at least this many lines of text on each side."""

GUTTER_MIN_WIDTH = 3
"""Narrowest gutter, in points (a word gap in justified text moves from line to line: never a strip)."""

PROSE_COLUMN_CHARS = 12
"""Columns of prose have lines of at least this many characters on average; shorter cells make a table."""

STRIP_RUN_ON_SHARE = 0.55
STRIP_CHARS = 8
"""A strip between gutters is prose when at least this share of its lines run on from the line
above with a small letter and its lines hold this many characters (spaces aside) on average: the
narrow justified columns of a real PESTEL page (57 % to 87 %, 10 to 18 characters) pass; a table
whose label column starts each row with a capital (47 % on a sample dossier) does not."""

RUN_ON_SHARE = 0.7
"""Share of a grid's lines followed, in their column, by a line starting with a small letter, from
which the grid is prose columns rather than a table."""

_PRIVATE_BULLETS = frozenset(chr(c) for c in (0xF0B7, 0xF0A7, 0xF06C, 0xF06E, 0xF0D8, 0xF0FC, 0xF0A8, 0xF076, 0xF0E0))
_TOC_REF = re.compile(r"(?:\.{3,}|…{2,}|\s)\s*(?:p\.?\s*)?\d{1,3}(?:\s*[-–]\s*\d{1,3})?\s*$", re.I)


@dataclass
class Run:
    """A stretch of text on one baseline: a cell, a column's line, or a whole line of prose."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


@dataclass
class Line:
    runs: list[Run]

    @property
    def top(self) -> float:
        return min(r.top for r in self.runs)

    @property
    def bottom(self) -> float:
        return max(r.bottom for r in self.runs)

    @property
    def x0(self) -> float:
        return self.runs[0].x0

    @property
    def height(self) -> float:
        return statistics.median(r.height for r in self.runs)

    @property
    def text(self) -> str:
        """Runs are separated by a column gap: they read as cells."""
        return " | ".join(r.text for r in self.runs)


@dataclass
class Block:
    """A paragraph (its lines) or a table (its rows, each the lines it was read from)."""

    lines: list[Line]
    table: list[list[Line]] | None = None
    columns: list[float] = field(default_factory=list)

    def render(self, dropped: set[int]) -> str:
        """The block's text without the lines in ``dropped`` (``id`` of each line)."""
        if self.table is None:
            return "\n".join(line.text for line in self.lines if id(line) not in dropped)
        rows = [[line for line in row if id(line) not in dropped] for row in self.table]
        return "\n".join(_row_text(row, self.columns) for row in rows if row)


@dataclass
class PageLayout:
    """One page read in order, as blocks, and what the reader should know about it."""

    blocks: list[Block]
    width: float
    height: float
    columns: bool = False
    tables: int = 0
    rotated: int = 0
    vertical_chars: int = 0

    @property
    def lines(self) -> list[Line]:
        return [line for block in self.blocks for line in block.lines]

    def render(self, dropped: set[int] | None = None) -> str:
        """The page's text: blocks separated by a blank line, without the ``dropped`` lines."""
        dropped = dropped or set()
        return "\n\n".join(text for block in self.blocks if (text := block.render(dropped)))

    @property
    def text(self) -> str:
        return self.render()


def _clean_char(char: str) -> str:
    if char == "\ufffe":  # pdfium's mark for a hyphen at the end of a line
        return "-"
    if char in _PRIVATE_BULLETS:
        return "•"
    if "\ue000" <= char <= "\uf8ff":
        return ""
    return char


@dataclass(frozen=True)
class _Char:
    text: str
    left: float
    right: float
    top: float
    bottom: float
    space_before: bool  # pdfium put a space (or a line break) before it


def _chars(textpage: Any, page_height: float) -> tuple[list[_Char], int]:
    """pdfium's characters with their loose boxes, top-down; and how many were vertical (set aside)."""
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    chars: list[_Char] = []
    vertical = 0
    space = True
    for index, raw in enumerate(text[:count]):
        if raw.isspace():
            space = True
            continue
        char = _clean_char(raw)
        if not char:
            continue
        left, low, right, high = textpage.get_charbox(index, loose=True)
        if right - left <= 0 and high - low <= 0:
            space = True
            continue
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, index)
        if 0.3 < angle % math.pi < math.pi - 0.3:  # a character of vertical (rotated) text: set aside
            vertical += 1
            continue
        chars.append(_Char(char, left, right, page_height - high, page_height - low, space))
        space = False
    return chars, vertical


def _gutters(chars: list[_Char]) -> list[tuple[float, float]]:
    """Vertical strips that no character crosses although many lines run on both sides of them: the
    space between two columns of text, too narrow to be told from a word gap line by line."""
    rows: list[list[_Char]] = []
    for char in sorted(chars, key=lambda c: (c.top, c.left)):
        row = rows[-1] if rows else None
        if row and min(char.bottom, row[0].bottom) - max(char.top, row[0].top) > 0.5 * (row[0].bottom - row[0].top):
            row.append(char)
        else:
            rows.append([char])
    if len(rows) < 2 * GUTTER_MIN_LINES:
        return []
    left = min(c.left for c in chars)
    right = max(c.right for c in chars)
    width = int(right - left) + 1
    crossed = [0] * width  # lines with a character over each point
    spanning = [0] * width  # lines with text on both sides of each point
    for row in rows:
        row.sort(key=lambda c: c.left)
        start, end = int(row[0].left - left), int(row[-1].right - left)
        for x in range(start, end):
            spanning[x] += 1
        for char in row:
            for x in range(int(char.left - left), min(width, int(char.right - left) + 1)):
                crossed[x] += 1
    gutters: list[tuple[float, float]] = []
    x = int(0.05 * width)
    while x < int(0.95 * width):
        if spanning[x] >= GUTTER_MIN_LINES and crossed[x] <= 0.05 * spanning[x]:
            begin = x
            while x < width and spanning[x] >= GUTTER_MIN_LINES and crossed[x] <= 0.05 * spanning[x]:
                x += 1
            if gutters and left + begin - gutters[-1][1] <= 2:  # one gutter, crossed by a stray character
                gutters[-1] = (gutters[-1][0], left + x)
            elif x - begin >= GUTTER_MIN_WIDTH:
                gutters.append((left + begin, left + x))
        x += 1
    return gutters


def _prose_strips(chars: list[_Char], gutters: list[tuple[float, float]]) -> bool:
    """Whether every strip between the gutters holds running prose (lines that run on with a small
    letter), so that wide word gaps inside a narrow justified column must not cut its lines. A
    table's columns, whose gaps separate cells, are left to the usual cutting."""
    edges = [float("-inf"), *(x for gutter in gutters for x in gutter), float("inf")]
    for left, right in zip(edges[::2], edges[1::2], strict=True):
        strip = sorted((c for c in chars if left <= c.left and c.right <= right), key=lambda c: (c.top, c.left))
        lines: list[list[_Char]] = []
        for char in strip:
            if lines and min(char.bottom, lines[-1][0].bottom) - max(char.top, lines[-1][0].top) > 0:
                lines[-1].append(char)
            else:
                lines.append([char])
        firsts = [min(line, key=lambda c: c.left).text for line in lines]
        if len(lines) < GUTTER_MIN_LINES:
            return False
        running_on = sum(first.islower() for first in firsts[1:])
        if running_on < STRIP_RUN_ON_SHARE * (len(firsts) - 1) or len(strip) / len(lines) < STRIP_CHARS:
            return False
    return True


def _runs(chars: list[_Char], gutters: list[tuple[float, float]], *, prose: bool) -> list[Run]:
    """Characters gathered into runs: a stretch on one baseline without a gutter nor, unless the
    page is columns of ``prose``, a wide gap."""
    runs: list[Run] = []
    text: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]  # x0, x1, top, bottom of the current run
    last_x1 = 0.0

    def close() -> None:
        value = "".join(text).strip()
        if value:
            runs.append(Run(value, box[0], box[1], box[2], box[3]))
        text.clear()

    for char in chars:
        height = char.bottom - char.top
        if text:
            run_height = max(box[3] - box[2], 1.0)
            overlap = min(char.bottom, box[3]) - max(char.top, box[2])
            same_line = overlap > 0.3 * min(max(height, 0.5), run_height)
            gap = char.left - last_x1
            across = any(last_x1 <= g1 and char.left >= g0 for g0, g1 in gutters)
            # In columns of prose, a narrow justified line may have wide word gaps: only a gutter cuts it.
            wide = gap > COLUMN_GAP * run_height and not prose
            if not same_line or char.left < box[0] - 0.5 * run_height or wide or across:
                close()
            elif char.space_before or gap > SPACE_GAP * run_height:
                text.append(" ")
        if not text:
            box = [char.left, char.right, char.top, char.bottom]
            last_x1 = char.right
        else:
            box = [min(box[0], char.left), max(box[1], char.right), min(box[2], char.top), max(box[3], char.bottom)]
            last_x1 = max(last_x1, char.right)
        text.append(char.text)
    close()
    return runs


def _lines(runs: list[Run], gutters: list[tuple[float, float]], *, prose: bool) -> list[Line]:
    """Runs that share a baseline, left to right; lines top to bottom."""
    lines: list[Line] = []
    for run in sorted(runs, key=lambda r: (r.top, r.x0)):
        for line in lines[-4:]:  # a baseline is found among the last few lines
            overlap = min(run.bottom, line.bottom) - max(run.top, line.top)
            clash = any(min(run.x1, r.x1) - max(run.x0, r.x0) > 0.5 for r in line.runs)
            if overlap > 0.5 * min(run.height, line.height) and not clash:
                line.runs.append(run)
                line.runs.sort(key=lambda r: r.x0)
                break
        else:
            lines.append(Line([run]))
    lines.sort(key=lambda line: line.top)
    for line in lines:  # runs closer than a column gap are one run (pieces of one line written apart)
        merged = [line.runs[0]]
        for run in line.runs[1:]:
            previous = merged[-1]
            gap = run.x0 - previous.x1
            across = any(previous.x1 <= g1 and run.x0 >= g0 for g0, g1 in gutters)
            if (gap <= COLUMN_GAP * min(previous.height, run.height) or prose) and not across:
                joiner = " " if gap > SPACE_GAP * previous.height else ""
                merged[-1] = Run(
                    previous.text + joiner + run.text,
                    previous.x0,
                    run.x1,
                    min(previous.top, run.top),
                    max(previous.bottom, run.bottom),
                )
            else:
                merged.append(run)
        line.runs = merged
    return lines


def _rulings(page: Any, page_height: float) -> list[tuple[float, float, float, float]]:
    """Boxes (x0, top, x1, bottom) of the page's drawn lines and rectangles: table borders and cells."""
    import pypdfium2.raw as pdfium_c

    boxes = []
    try:
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=3):
            left, low, right, high = obj.get_pos()
            if right - left < 1 and high - low < 1:
                continue
            boxes.append((left, page_height - high, right, page_height - low))
    except Exception:  # a damaged content stream: read the text without borders
        return []
    return boxes


def _columns(lines: list[Line], tolerance: float) -> list[float]:
    """Starts of a grid's columns: those of its first line (a table's first row, often its header),
    and those that at least two of its multi-run lines share."""
    first = {r.x0 for r in lines[0].runs}
    starts = sorted(r.x0 for line in lines if len(line.runs) > 1 for r in line.runs)
    groups: list[list[float]] = []
    for start in starts:
        if groups and start - groups[-1][-1] <= tolerance:
            groups[-1].append(start)
        else:
            groups.append([start])
    return [min(g) for g in groups if len(g) >= 2 or first.intersection(g)]


def _column_of(x: float, columns: list[float], tolerance: float) -> int:
    return max((i for i, start in enumerate(columns) if start <= x + tolerance), default=0)


def _grid_end(lines: list[Line], start: int, tolerance: float) -> int:
    """Where a grid that begins at ``lines[start]`` (a multi-run line) ends (exclusive)."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        region = lines[start:end]
        columns = _columns(region, tolerance) or [r.x0 for r in lines[start].runs]
        height = statistics.median(line_.height for line_ in region)
        gap = line.top - lines[end - 1].bottom
        if gap > 2.5 * height:
            break
        if len(line.runs) > 1:
            aligned = sum(any(abs(r.x0 - c) <= tolerance for c in columns) for r in line.runs)
            if aligned < len(line.runs) - 1:
                break
        elif len(columns) > 1 and line.x0 >= columns[1] - tolerance:
            pass  # a wrapped cell of a later column
        elif gap <= 1.0 * height and abs(line.x0 - columns[0]) <= tolerance and len(lines[end - 1].runs) > 1:
            pass  # a wrapped first cell, right under its row
        else:
            break
        end += 1
    return end


def _is_prose_columns(region: list[Line], columns: list[float], ruled: bool) -> bool:
    """Whether a grid is columns of prose (read column by column) rather than a table (row by row).

    Prose columns have no ruling lines and sentences that run on from line to line: the next line
    of a column starts with a small letter for most lines (``RUN_ON_SHARE``). Table cells wrap too,
    but the cells of a table's label column start with capitals or numbers, and single-line rows
    never run on: on the sample dossiers' 49 tables the share is at most 0.62, on pages of prose
    columns of the real dossiers it is 0.73 to 0.89.
    """
    if ruled or len(region) < 6:
        return False
    tolerance = 0.9 * statistics.median(line.height for line in region)
    cells: list[list[str]] = [[] for _ in columns]
    for line in region:
        for run in line.runs:
            cells[_column_of(run.x0, columns, tolerance)].append(run.text)
    texts = [text for column in cells for text in column]
    if statistics.mean(len(text) for text in texts) < PROSE_COLUMN_CHARS:
        return False
    pairs = [(a, b) for column in cells for a, b in itertools.pairwise(column)]
    running_on = sum(b[:1].islower() for _, b in pairs)
    return bool(pairs) and running_on >= RUN_ON_SHARE * len(pairs)


def _table_rows(
    region: list[Line], columns: list[float], rulings: list[tuple[float, float, float, float]], tolerance: float
) -> list[list[Line]]:
    """A table's lines grouped into rows, each row's wrapped cells joined.

    A drawn horizontal line between two lines separates rows. Without one, rows are told apart
    by the cell padding: the space between two rows is wider than between the lines of a
    wrapped cell. When all lines are evenly spaced, a line with text in the first column starts
    a row. (Cells aligned to the bottom of their row, rare in documents, may be misread.)
    """
    x0, x1 = min(line.x0 for line in region), max(line.runs[-1].x1 for line in region)
    rules = [b for b in rulings if b[3] - b[1] < 2 and b[2] - b[0] > 10 and b[0] < x1 and b[2] > x0]
    gaps = sorted(b.top - a.bottom for a, b in itertools.pairwise(region))
    height = statistics.median(line.height for line in region)
    # A wrapped cell's lines are the most tightly spaced: a row starts above the first wider space.
    threshold = next(((a + b) / 2 for a, b in itertools.pairwise(gaps) if b - a > 0.15 * height), None)
    rows: list[list[Line]] = [[region[0]]]
    for previous, line in itertools.pairwise(region):
        if rules:
            new_row = any(previous.bottom - 2 <= (b[1] + b[3]) / 2 <= line.top + 2 for b in rules)
        elif threshold is None:  # evenly spaced lines: a row starts with its first column
            new_row = any(_column_of(r.x0, columns, tolerance) == 0 for r in line.runs)
        else:
            new_row = line.top - previous.bottom > threshold
        if new_row:
            rows.append([])
        rows[-1].append(line)
    return rows


def _row_text(lines: list[Line], columns: list[float]) -> str:
    """One table row on one line: each column's text joined, cells separated by « | »."""
    tolerance = 0.9 * statistics.median(line.height for line in lines)
    cells: list[list[str]] = [[] for _ in columns] if columns else [[]]
    for line in lines:
        for run in line.runs:
            cells[_column_of(run.x0, columns, tolerance)].append(run.text)
    return " | ".join(" ".join(cell) for cell in cells if cell)


def _ruled(region: list[Line], rulings: list[tuple[float, float, float, float]]) -> bool:
    top, bottom = region[0].top, region[-1].bottom
    x0 = min(line.x0 for line in region)
    x1 = max(line.runs[-1].x1 for line in region)
    inside = [b for b in rulings if b[1] <= bottom + 4 and b[3] >= top - 4 and b[0] <= x1 + 4 and b[2] >= x0 - 4]
    verticals = [b for b in inside if b[2] - b[0] < 2 and b[3] - b[1] > 6]
    cells = [b for b in inside if b[2] - b[0] > 10 and b[3] - b[1] > 6]
    return len(verticals) >= 2 or len(cells) >= 2


def _paragraphs(flow: list[Line]) -> list[Block]:
    """Consecutive lines cut into paragraphs where the spacing widens or the text size changes."""
    if not flow:
        return []
    spacing = sorted(b.top - a.bottom for a, b in itertools.pairwise(flow))
    usual = spacing[len(spacing) // 4] if spacing else 0.0  # the tight spacing of a paragraph's lines
    blocks = [Block([flow[0]])]
    for previous, line in itertools.pairwise(flow):
        gap = line.top - previous.bottom
        size_change = abs(line.height - previous.height) > 0.25 * min(line.height, previous.height)
        if gap > max(usual * 1.6, 0.45 * line.height) or size_change:
            blocks.append(Block([]))
        blocks[-1].lines.append(line)
    return blocks


def read_layout(page: Any) -> PageLayout:
    """The page's blocks in reading order (see the module docstring)."""
    width, height = page.get_size()
    with PDFIUM_LOCK:
        textpage = page.get_textpage()
        try:
            chars, vertical = _chars(textpage, height)
        finally:
            textpage.close()
        gutters = _gutters(chars)
        prose = bool(gutters) and _prose_strips(chars, gutters)
        lines = _lines(_runs(chars, gutters, prose=prose), gutters, prose=prose)
        rulings = _rulings(page, height) if any(len(line.runs) > 1 for line in lines) else []
        rotation = page.get_rotation()
    layout = PageLayout(blocks=[], width=width, height=height, rotated=rotation, vertical_chars=vertical)
    if not lines:
        return layout
    tolerance = 0.9 * statistics.median(line.height for line in lines)
    flow: list[Line] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if len(line.runs) > 1:
            end = _grid_end(lines, index, tolerance)
            columns = _columns(lines[index:end], tolerance) if end - index > 1 else []
            if len(columns) < 2:  # no column shared with the lines below: a row of its own (« Nom | Dupont »)
                end, columns = index + 1, [r.x0 for r in line.runs]
            region = lines[index:end]
            if len(columns) >= 2:
                layout.blocks += _paragraphs(flow)
                flow = []
                if _is_prose_columns(region, columns, _ruled(region, rulings)):
                    layout.columns = True
                    for column in range(len(columns)):
                        part = [r for ln in region for r in ln.runs if _column_of(r.x0, columns, tolerance) == column]
                        layout.blocks += _paragraphs([Line([r]) for r in part])
                else:
                    layout.tables += 1
                    layout.blocks.append(Block(region, _table_rows(region, columns, rulings, tolerance), columns))
                index = end
                continue
        flow.append(line)
        index += 1
    layout.blocks += _paragraphs(flow)
    return layout


def garbled(text: str) -> bool:
    """Extraction that looks wrong: words run together, glyphs without Unicode, words without vowels."""
    words = re.findall(r"[^\W\d_]{2,}", text)
    if len(words) < 20:
        return "\ufffd" in text or "(cid:" in text
    long_words = sum(len(w) > 24 for w in words) / len(words)
    no_vowel = sum(not re.search(r"[aeiouyàâäéèêëîïôöùûüœæ]", w, re.I) for w in words) / len(words)
    return "(cid:" in text or text.count("\ufffd") > 3 or long_words > 0.08 or no_vowel > 0.35


def toc_like(line: str) -> bool:
    """A table-of-contents entry: a title ending with a page reference (« Contexte ..... 4 », « p. 5-12 »)."""
    return bool(_TOC_REF.search(line)) and len(line) > 6 and any(c.isalpha() for c in line)
