"""Pages -> chunks that follow the document's structure, each locatable to a page and offsets.

A page's text is first cut into units: headings, paragraphs, list items and table rows
(Markdown marks from DOCX and Markdown files; numbering, capitals and bullets from PDF
text). Chunks then gather units under the current heading up to a target size: a new
heading starts a new chunk, a list or a table is kept whole when it fits in one and a half
targets, a paragraph longer than the target is cut between sentences, and a chunk cut for
size repeats its last units (up to the overlap) at the start of the next one.

Every chunk has a stable id made from its file's sha256 and its position, its page span,
its character offsets into the normalised page text (start on the first page, end on the
last) and its heading path.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from assessor.ingest.document import LoadedFile, Page
from assessor.settings import ChunkSettings

MIN_PASSAGE_WORDS = 6
"""A passage has at least this many words besides its headings: a bare heading, a table-of-contents
line or a lone label is never evidence."""


class UnitKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE_ROW = "table_row"
    SENTENCES = "sentences"  # a piece of a paragraph longer than the target


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    page: int
    start: int
    end: int
    text: str
    level: int = 0


class Chunk(BaseModel):
    """A passage of a candidate's file, the unit of retrieval and citation."""

    model_config = ConfigDict(extra="forbid")

    id: str
    file: str
    file_sha256: str
    page_start: int
    page_end: int
    paged: bool
    locator: str = Field(description="« page 4 », « pages 4–5 » or « section 2 — Analyse, ¶3 ».")
    char_start: int = Field(description="Offset in the normalised text of page_start.")
    char_end: int = Field(description="Offset in the normalised text of page_end.")
    heading_path: list[str]
    text: str
    ocr: bool = Field(description="At least one of its pages was read by OCR.")

    @property
    def index_text(self) -> str:
        """What retrieval reads: the heading path gives a short passage its context."""
        return " > ".join(self.heading_path) + "\n" + self.text if self.heading_path else self.text


_MD_HEADING = re.compile(r"^(#{1,6})\s+(\S.*)$")
_NUMBERED = re.compile(r"^(?P<num>(?:\d{1,2}\.)*\d{1,2}\.?|[IVXLC]{1,5}\s*[.)-]|[A-H]\s*[).])\s+\S")
_SUBSECTION = re.compile(r"^\d{1,2}\.\d{1,2}(?:\.\d{1,2})*\.?\s+[A-ZÀ-ÖØ-ÞŒ]")
_BULLET = re.compile(r"^(?:[•\-–—▪◦●○■□►▸✓✔*]|\d{1,2}\)|[a-z]\))\s+\S")
_TOC_LINE = re.compile(
    r"(?:\.\s?){4,}\s*(?:\|\s*)?\d{1,3}\s*$"  # dot leaders then a page number
    r"|^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+[^|]{2,90}\s\|\s\d{1,3}$"  # « 2. Contexte | 3 »
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-ÞŒ«\"“(\d])")


def _heading_level(line: str) -> int | None:
    """Heading level of a PDF line, or None: numbered (« 2.1 Analyse ») or all capitals, short."""
    if len(line) > 90 or line.endswith((".", ",", ";")) or " | " in line:
        return None
    match = _NUMBERED.match(line)
    if match:
        num = match.group("num")
        if num[0].isdigit():
            words = line[len(num) :].split()
            if not words or not words[0][:1].isupper():
                return None  # « 3 ans de ... » is a sentence, not a heading
            return min(3, num.rstrip(".").count(".") + 1)
        return 1 if num[0] in "IVXLC" else 2
    letters = [c for c in line if c.isalpha()]
    if len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return 1
    return None


def _units(page: int, text: str, *, markdown: bool, headings: dict[str, int] | None = None) -> Iterator[Unit]:
    """Cut one page's text into units, with their offsets. ``headings``: the page's heading lines of
    an official template (``Page.headings``), with their levels."""
    headings = headings or {}
    for block in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text):
        lines = [(m.start() + block.start(), m.group()) for m in re.finditer(r"[^\n]+", block.group())]
        pending: list[tuple[int, str]] = []  # lines of the paragraph being read
        item: list[tuple[int, str]] = []  # lines of the list item being read

        def flush(kind: UnitKind, parts: list[tuple[int, str]]) -> Iterator[Unit]:
            if parts:
                start, end = parts[0][0], parts[-1][0] + len(parts[-1][1])
                yield Unit(kind, page, start, end, text[start:end])
                parts.clear()

        for index, (offset, line) in enumerate(lines):
            if _TOC_LINE.search(line) and not markdown:
                # A table-of-contents entry (« 4.2 Analyse . . . . 6 »): never evidence, it
                # would only echo the headings. Left out of the chunks, kept in the page text.
                yield from flush(UnitKind.PARAGRAPH, pending)
                yield from flush(UnitKind.LIST_ITEM, item)
                continue
            md = _MD_HEADING.match(line)
            level = len(md.group(1)) if md else headings.get(line.strip())
            if level is None and not markdown and (index == 0 or _SUBSECTION.match(line)):
                # A heading starts a block; mid-block, only a sub-section number (« 6.3 Budget »)
                # is trusted, since « 1. Premier point » may as well be a numbered list item.
                level = _heading_level(line)
            if level is not None:
                yield from flush(UnitKind.PARAGRAPH, pending)
                yield from flush(UnitKind.LIST_ITEM, item)
                yield Unit(UnitKind.HEADING, page, offset, offset + len(line), line, level)
            elif " | " in line:
                yield from flush(UnitKind.PARAGRAPH, pending)
                yield from flush(UnitKind.LIST_ITEM, item)
                yield Unit(UnitKind.TABLE_ROW, page, offset, offset + len(line), line)
            elif _BULLET.match(line):
                yield from flush(UnitKind.PARAGRAPH, pending)
                yield from flush(UnitKind.LIST_ITEM, item)
                item.append((offset, line))
            elif item:
                item.append((offset, line))  # continuation of a list item
            else:
                pending.append((offset, line))
        yield from flush(UnitKind.PARAGRAPH, pending)
        yield from flush(UnitKind.LIST_ITEM, item)


def _split_long(unit: Unit, target: int) -> Iterator[Unit]:
    """Cut a unit longer than the target between sentences (between words if it must)."""
    if len(unit.text) <= target:
        yield unit
        return
    text = unit.text
    bounds = [0, *(m.start() for m in _SENTENCE_END.finditer(text)), len(text)]
    pieces: list[tuple[int, int]] = []
    for s, e in itertools.pairwise(bounds):
        if pieces and e - pieces[-1][0] <= target:
            pieces[-1] = (pieces[-1][0], e)  # the sentence still fits in the current piece
        else:
            pieces.append((s, e))
    final: list[tuple[int, int]] = []
    for a, b in pieces:
        while b - a > target * 3 // 2:  # no sentence end for a long stretch: cut at a space
            space = text.rfind(" ", a, a + target)
            cut = space if space > a else a + target
            final.append((a, cut))
            a = cut
        final.append((a, b))
    for a, b in final:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            yield Unit(UnitKind.SENTENCES, unit.page, unit.start + a, unit.start + b, text[a:b])


def _span_text(units: list[Unit], pages: dict[int, Page]) -> str:
    """The exact text the units cover: one slice per page, pages separated by a blank line."""
    parts = []
    for number in dict.fromkeys(u.page for u in units):
        on_page = [u for u in units if u.page == number]
        parts.append(pages[number].text[on_page[0].start : on_page[-1].end])
    return "\n\n".join(parts)


def chunk_file(loaded: LoadedFile, settings: ChunkSettings | None = None) -> list[Chunk]:
    """Cut a loaded file into chunks (see the module docstring)."""
    settings = settings or ChunkSettings()
    markdown = loaded.kind in ("docx", "markdown")
    units = [
        piece
        for page in loaded.pages
        for unit in _units(
            page.number, page.text, markdown=markdown, headings={h.text.strip(): h.level for h in page.headings}
        )
        for piece in _split_long(unit, settings.target_chars)
    ]
    pages = {p.number: p for p in loaded.pages}
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, heading) in force
    current: list[Unit] = []
    current_path: list[str] = []

    def size(units: list[Unit]) -> int:
        return sum(len(u.text) + 1 for u in units)

    def content(units: list[Unit]) -> int:
        return sum(len(u.text) for u in units if u.kind is not UnitKind.HEADING)

    def emit(units: list[Unit]) -> None:
        # Never a bare heading nor a scrap: a passage holds something to judge.
        if sum(len(u.text.split()) for u in units if u.kind is not UnitKind.HEADING) < MIN_PASSAGE_WORDS:
            return
        first, last = units[0], units[-1]
        sha = loaded.sha256
        if loaded.paged:
            where = f"page {first.page}" if first.page == last.page else f"pages {first.page}–{last.page}"
        else:
            paragraph = pages[first.page].text.count("\n\n", 0, first.start) + 1
            where = f"{pages[first.page].label}, ¶{paragraph}"
        chunks.append(
            Chunk(
                id=f"{sha[:12]}-p{first.page:03d}-{first.start:06d}",
                file=loaded.name,
                file_sha256=sha,
                page_start=first.page,
                page_end=last.page,
                paged=loaded.paged,
                locator=where,
                char_start=first.start,
                char_end=last.end,
                heading_path=list(current_path),
                text=_span_text(units, pages),
                ocr=any(pages[n].ocr for n in range(first.page, last.page + 1) if n in pages),
            )
        )

    for unit in units:
        if unit.kind is UnitKind.HEADING:
            if content(current) >= settings.min_chars:
                emit(current)
                current = []
            while path and path[-1][0] >= unit.level:
                path.pop()
            path.append((unit.level, unit.text.lstrip("#").strip()))
            if not content(current):
                current_path = [h for _, h in path]
            current.append(unit)
            continue
        if not content(current):
            current_path = [h for _, h in path]
        grouped = unit.kind in (UnitKind.LIST_ITEM, UnitKind.TABLE_ROW) and current and current[-1].kind is unit.kind
        limit = settings.target_chars * (1.5 if grouped else 1.0)
        if content(current) >= settings.min_chars and size(current) + len(unit.text) > limit:
            emit(current)
            overlap: list[Unit] = []
            for previous in reversed(current[1:]):  # a strict suffix: the next chunk starts later
                if previous.kind is UnitKind.HEADING or size(overlap) + len(previous.text) > settings.overlap_chars:
                    break
                overlap.insert(0, previous)
            current = overlap
        current.append(unit)
    words = sum(len(u.text.split()) for u in current if u.kind is not UnitKind.HEADING)
    scrap = 0 < words < MIN_PASSAGE_WORDS
    if chunks and (scrap or (content(current) < settings.min_chars and current[0].page - chunks[-1].page_end <= 1)):
        # A short end of file (a last line, a signature place and date) joins the passage before it.
        last = chunks.pop()
        current = [u for u in units if (u.page, u.start) >= (last.page_start, last.char_start)]
        current_path = last.heading_path
    emit(current)
    return chunks
