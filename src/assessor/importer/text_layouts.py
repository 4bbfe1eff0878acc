"""Référentiel layouts read from text, line by line: the REAC's competency sheets and the
block / competency / modality / criteria grids.

Both work on *units*: a line and the lines that continue it (a wrapped line starts with a small
letter, or follows a line that ends mid-sentence), so that a criterion wrapped over several
lines, or cut by a page break, is read whole.

pdftotext prints a page block by block, and a grid's columns side by side come out interleaved: it
may cut the criteria column's block in the middle of an item, print the other columns' blocks, then
the rest of the criteria column. A line indented, or after two blank lines or more, starts another
block and does not continue the line before; a list item interrupted so before the end of its
sentence is *cut*. Its rest is the first later line that starts with a small letter after a blank
line, ends as the item before it does (« , » or nothing; without such an item, the list must go on
right after it) and closes no bracket the item left open. When the cut item had ended its sentence
with a comma, its list goes on with the next items printed after the other blocks (not those after a
lead-in « … : », which open a list of their own). The rest and those items are put back after the
cut item, so that they are read with its competency and heading.

* **REAC** (« FICHE COMPÉTENCE PROFESSIONNELLE »): a competency's title stands before
  « Description de la compétence »; its criteria are the lines under « Critères de
  performance », up to the next heading.
* **Grids**: blocks are headed « Bloc de compétences n° 1 : … », « BLOC 1 – … » or, failing
  those, « Activité 1 : … ». Criteria are evaluative statements (« les sources … sont
  fiables ») printed as bullets or paragraphs. When the grid ties criteria to competencies by
  a mark (« En relation avec les compétences C.1.1 : », « Pour C1 : », « C1. » alone), the
  mark decides; otherwise a criterion belongs to the competency printed before it. Headings
  (« • Pertinence de l'analyse du marché : ») group the criteria that follow.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz

from assessor.importer.reading import ReadBlock, ReadCompetency, ReadCriterion, Reading, ReadModality, SourceKind
from assessor.importer.split import clean
from assessor.referential import Provenance


@dataclass
class Page:
    """A page's lines; ``number`` is None for a text without page breaks."""

    number: int | None
    lines: list[str]


@dataclass
class Unit:
    text: str
    page: int | None
    line: int
    bullet: str = ""  # "-" for an item, "•" for a heading bullet, "" for a plain line


_BULLET = re.compile(r"^([-–•●▪➢►*])(?:\s+|(?=[a-zàâçéèêîôû]))")
_ENDS = (".", ":", "!", "?", ";")
_CLOSED = (".", ":", "!", "?")  # a list item that ends so has ended its sentence
_NEW_SECTION = re.compile(
    r"^(Bloc\b|BLOC\b|Activité\s*\d|ACTIVITE\s*\d|N°\s*\d|Pour\s+C|En relation avec|https?://|A\.?\d+(?:\.\d+)*\s|C[\d.]*\d[a-z]?\s*[.\-–:]?(?:\s|$)|\d\s*[-–]\s*[A-ZÀÂÉÈÊÎÔÛ])"
)


def units(pages: list[Page], *, capital_starts: bool = False) -> list[Unit]:
    """Lines joined into units (see the module docstring). With ``capital_starts``, a line that starts
    with a capital always starts a unit (lists printed without punctuation, as a REAC's criteria)."""
    pieces: list[_Piece] = []
    blanks = 0
    for page in pages:
        for index, raw in enumerate(page.lines, start=1):
            line = clean(raw)
            if not line:
                blanks += 1
                continue
            piece = _piece(line, page.number, index, blanks=blanks, indented=raw[:1].isspace())
            if pieces:
                _follow(pieces[-1], piece, capital_starts=capital_starts)
            pieces.append(piece)
            blanks = 0
    _put_back_cut_items(pieces)
    result: list[Unit] = []
    for piece in pieces:
        if piece.glued and result:
            result[-1].text = _joined(result[-1].text, piece.unit.text)
        else:
            result.append(piece.unit)
    return result


class _Piece:
    """A line of the text: a unit of its own, or ``glued`` to the piece before it (a wrapped line)."""

    def __init__(self, unit: Unit, *, blanks: int, indented: bool) -> None:
        self.unit = unit
        self.blanks = blanks  # blank lines before it
        self.indented = indented
        # pdftotext starts another block, often another column's text, on an indented line or after a
        # gap of two blank lines or more: such a line does not continue the one before.
        self.new_block = indented or blanks >= 2
        self.glued = False
        self.head = self  # the first piece of its unit
        self.text = unit.text  # its unit's text up to this piece
        self.cut = False  # a list item another block interrupted before its sentence ended


def _piece(line: str, page: int | None, number: int, *, blanks: int, indented: bool) -> _Piece:
    bullet = _BULLET.match(line)
    text = line[bullet.end() :] if bullet else line
    mark = "" if bullet is None else ("•" if bullet.group(1) in "•●▪➢►" else "-")
    return _Piece(Unit(text, page, number, mark), blanks=blanks, indented=indented)


def _follow(before: _Piece, piece: _Piece, *, capital_starts: bool) -> None:
    """Glue a line to the unit before it when it continues it, or mark that unit cut."""
    line, last = piece.unit.text, before.text
    if piece.new_block and not piece.unit.bullet and before.head.unit.bullet and not last.endswith(_CLOSED):
        before.head.cut = True
    if piece.new_block or piece.unit.bullet or _NEW_SECTION.match(line) or _KNOWLEDGE.match(line):
        return
    if _heading_line(before.head.unit.text) or _KEY_ALONE.match(last):
        return
    if before.head.unit.bullet and not capital_starts and _INFINITIVE.match(line):
        return  # a list item ends where a competency opens with its verb (« Décliner une argumentation… »)
    # « … (par exemple : » goes on whatever the next line starts with; after a finished phrase, a
    # blank line means another block.
    piece.glued = (not piece.blanks and _opens_unclosed(last)) or (
        not (piece.blanks and last.endswith(_ENDS))
        and (
            line[0].islower()
            or line[0] in "(),;"
            or (not capital_starts and not piece.blanks and not last.endswith(_ENDS))
        )
    )
    if piece.glued:
        piece.head, piece.text = before.head, _joined(last, line)


def _put_back_cut_items(pieces: list[_Piece]) -> None:
    """A list item cut by another column's text gets its rest back, and the next items of its list go
    back after it (see the module docstring)."""
    for cut in [p for p in pieces if p.cut]:
        at = pieces.index(cut)
        after = _unit_end(pieces, at)
        cut_text = pieces[after - 1].text
        before = pieces[at - 1] if at else None
        sibling = before.text if before is not None and before.head.unit.bullet == cut.unit.bullet else None
        lead_in = False  # the pieces read are the items of another list, opened by « … : »
        index = _unit_end(pieces, after)  # the block that interrupted the item is not its rest
        while index < len(pieces):
            piece, end = pieces[index], _unit_end(pieces, index)
            text = pieces[end - 1].text
            if _BLOCK.match(text):
                break
            if piece.unit.bullet == cut.unit.bullet and not lead_in:
                # The list goes on with its next item: the cut item had ended, and when it ended its
                # sentence with a comma, the items printed from here go back after it.
                if cut_text.endswith((",", ";")):
                    _move(pieces, index, _items_end(pieces, index, cut.unit.bullet), to=after)
                break
            following = pieces[end] if end < len(pieces) else None
            if _rest_of(piece, text, cut_text=cut_text, mark=cut.unit.bullet, sibling=sibling, following=following):
                piece.glued, piece.head = True, cut
                _move(pieces, index, _items_end(pieces, end, cut.unit.bullet), to=after)
                break
            lead_in = text.endswith(":") or (lead_in and bool(piece.unit.bullet))
            index = end


def _rest_of(
    piece: _Piece, text: str, *, cut_text: str, mark: str, sibling: str | None, following: _Piece | None
) -> bool:
    """Whether a unit (``piece`` starts it, ``text`` is all of it) is the rest of a cut item: it starts
    with a small letter after a blank line, closes no bracket the item left open, and ends as the item
    before the cut one (``sibling``) does, « , » or nothing; without such an item, the list goes on
    right after it."""
    if piece.unit.bullet or piece.indented or not piece.blanks or not text[:1].islower() or text.endswith(":"):
        return False  # a line ending with a colon opens a list of its own
    if _closes_unopened(text) and not _opens_unclosed(cut_text):
        return False
    if sibling is not None:
        return _ending(text) == _ending(sibling)
    return following is not None and following.unit.bullet == mark


def _ending(text: str) -> str:
    return text[-1] if text[-1] in ".,;:!?" else ""


def _unit_end(pieces: list[_Piece], index: int) -> int:
    """The index of the first piece after ``index`` that starts a unit."""
    end = index + 1
    while end < len(pieces) and pieces[end].glued:
        end += 1
    return end


def _items_end(pieces: list[_Piece], index: int, mark: str) -> int:
    """The end of the run of items marked ``mark`` from ``index``."""
    end = index
    while end < len(pieces) and not pieces[end].glued and pieces[end].unit.bullet == mark:
        end = _unit_end(pieces, end)
    return end


def _move(pieces: list[_Piece], start: int, end: int, *, to: int) -> None:
    moved = pieces[start:end]
    del pieces[start:end]
    pieces[to:to] = moved


def _joined(text: str, line: str) -> str:
    """A wrapped line joined to the text before it; a word hyphenated at the line's end is made whole."""
    if text.endswith("-") and line[:1].islower() and text[-2:-1].isalpha():
        return text[:-1] + line
    return f"{text} {line}"


def _opens_unclosed(text: str) -> bool:
    return text.count("(") > text.count(")")


def _closes_unopened(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth < 0:
            return True
    return False


def _heading_line(text: str) -> bool:
    return bool(_REAC_HEADINGS.match(text))


def _where(file: str, unit: Unit) -> Provenance:
    if unit.page is None:
        return Provenance(file=file, line=unit.line)
    return Provenance(file=file, page=unit.page)


# ---------------------------------------------------------------------------------------------- REAC

_REAC_HEADINGS = re.compile(
    r"^(Description de la compétence|Contexte\(s\) professionnel|Critères de performance|Savoirs, savoir-faire"
    r"|FICHE COMPÉTENCE|FICHE DES COMPÉTENCES TRANSVERSALES|FICHE ACTIVITÉ|Glossaire|N°\s*\d+$)",
    re.I,
)


def is_reac(pages: list[Page]) -> bool:
    return any(line.strip().startswith("Critères de performance") for page in pages for line in page.lines)


def read_reac(file: str, pages: list[Page]) -> Reading:
    """A REAC: one block for the professional competencies, one for the transversal ones."""
    reading = Reading(file=file, kind=SourceKind.REAC)
    items = units(pages, capital_starts=True)
    professional = ReadBlock(title="Compétences professionnelles", provenance=Provenance(file=file))
    transversal = ReadBlock(title="Compétences transversales", provenance=Provenance(file=file))
    block = professional
    competency: ReadCompetency | None = None
    in_criteria = False
    for index, unit in enumerate(items):
        text = unit.text
        if text.upper().startswith("FICHE DES COMPÉTENCES TRANSVERSALES"):
            block = transversal
        if text.startswith("Description de la compétence") and index > 0:
            title = items[index - 1]
            competency = ReadCompetency(statement=title.text, provenance=_where(file, title))
            block.competencies.append(competency)
            in_criteria = False
        elif text.startswith("Critères de performance"):
            in_criteria = competency is not None
        elif _heading_line(text) or (index + 1 < len(items) and items[index + 1].text.startswith("Description")):
            in_criteria = False
        elif in_criteria and competency is not None:
            competency.criteria.append(ReadCriterion(text=text, provenance=_where(file, unit)))
    reading.blocks = [b for b in (professional, transversal) if b.competencies]
    for block in reading.blocks:
        block.provenance = block.competencies[0].provenance
    return reading


# ---------------------------------------------------------------------------------------------- grids

_BLOCK = re.compile(r"^(?:Bloc(?: de compétences)?\s*(?:n°\s*)?|BLOC\s+)(\d+)\s*[:–-]\s*(\S.*)$", re.I)
_ACTIVITY_BLOCK = re.compile(r"^Activité\s*(\d+)\s*:\s*(\S.*)$")
_NUMBERED_BLOCK = re.compile(r"^(\d)\s*[-–]\s*([A-ZÀÂÉÈÊÎÔÛ].*)$")
_COMPETENCY = re.compile(r"^(C\.?\d+(?:\.\d+)*[a-z]?)\s*[-–.:]?\s+([A-ZÀÂÉÈÊÎÔÛ].*)$")
_KEY_ALONE = re.compile(r"^(C\.?\d+(?:\.\d+)*[a-z]?)\s*\.?\s*$")
_KEY_FOR = re.compile(r"^Pour\s+(C\.?\d+(?:\.\d+)*[a-z]?)\s*:?\s*(.*)$")
_KEY_RELATION = re.compile(
    r"^(?:\d+\s*/\s*)?En relation avec (?:les |la )?compétences?\b\s*(.*?)\s*(?::\s*(.*))?$", re.I
)
_CODES_ONLY = re.compile(r"^(?:C\.?\d+(?:\.\d+)*[a-z]?\s*(?:[&,]|et)?\s*)+:?$")
_CODE = re.compile(r"C\.?\d+(?:\.\d+)*[a-z]?")
_ACTIVITY = re.compile(r"^(ACTIVITE|ACTIVITÉ|Activité)\s*\d|^A\.?\d+(\.\d+)*\s*[-–]?\s+[A-ZÀ-Ý]")
_KNOWLEDGE = re.compile(r"^(Connaissances|Savoirs|Savoir-faire)\b[^:]{0,40}:", re.I)
_MODALITY = re.compile(r"^M\d+\s*[–-]\s*(\S.*)$")
# A verb that opens a competency (« S'assurer » too); an elided article is not one (« L'offre »).
_INFINITIVE = re.compile(r"^(?![LD]['’])[A-ZÀÂÉÈÊÎÔÛ][a-zàâçéèêëîïôûù'’-]+(er|ir|re|oir)\b")
_EVALUATIVE = re.compile(
    r"\b(est|sont|a été|ont été|sera|seront|permet|permettent|respecte|respectent|répond|répondent|"
    r"couvre|couvrent|intègre|intègrent|contient|contiennent|comporte|comportent|correspond|correspondent|"
    r"tient compte|tiennent compte|prend en compte|prennent en compte|s['’]appuie|s['’]appuient|"
    r"met en évidence|mettent en évidence|se basent|se base|démontre|démontrent|reflète|reflètent|"
    r"mentionne|mentionnent|favorise|favorisent|garantit|garantissent|assure|assurent|traduit|traduisent)\b"
)
KEYED_MARKS = 3
"""From this many marks (« Pour C1 : »…), marks tie criteria to competencies; a stray code alone on a
line in an OCR'd grid is not a system of marks."""

SENTENCE_WORDS = 7
"""Words from which an unpunctuated statement opening with a determiner is a sentence, not a title."""

SAME_NOTE = 92.0
"""rapidfuzz ratio from which two lines are the same note read twice by OCR."""

BOILERPLATE_REPEATS = 4
"""A sentence printed this many times in a grid is a standing note, not a criterion."""

# What the candidate does or hands in is a modality (« Le candidat remet un dossier ») ; what they
# show is a criterion (« Le candidat identifie les enjeux… »).
_NOT_CRITERION = re.compile(
    r"^((le|la|chaque|un|une) candidat(\.e)?\s+(doit|devra|prépare|remet|présente|réalise|rédige|commence|"
    r"choisit|peut|dispose|a|est|sera|produit|conçoit|transmet|devra)\b|lorsqu|dans le cadre|[aà] partir"
    r"|((l['’]|la |le |les |cette |ce |cet |une? )\s*)?([ée]tude de cas|cas pratique|mise en situation|jeux? de rôle)"
    r"|(il|elle|ils|elles) doi(t|vent)\b)"
    r"|candidat\.e|\bdurée\b(\s+de\s[^:.]{1,40})?\s*:?\s*\d"  # « Durée : 20 mn », not « une durée »
    r"|compétences\b[^.]{0,80}\bsont évaluées|\bla certification\b",
    re.I,
)
_DETERMINER = re.compile(
    r"^(Le|La|Les|L['’]|Un|Une|Des|Chaque|Ce|Cet|Cette|Ces|Son|Sa|Ses|Leur|Leurs|Tous|Toutes|Sont|Il|Elle|Ils|Elles)\b"
)


def _evaluative(text: str) -> bool:
    """A statement that says what is expected: a criterion, not a task, a modality or a heading."""
    if _NOT_CRITERION.search(text) or _INFINITIVE.match(text):
        return False
    # Without a verb from the list, a sentence still reads as a criterion when it is one: a subject,
    # then a full stop or enough words (« Les actions à mettre en œuvre » is a heading, not one).
    sentence = text.endswith(".") or len(text.split()) >= SENTENCE_WORDS
    return bool(_EVALUATIVE.search(text)) or (bool(_DETERMINER.match(text)) and sentence)


def _evaluative_heading(text: str) -> bool:
    """A heading over criteria says what is judged (« Le diagnostic contient : »), with a verb; a
    noun phrase (« La conduite d'une négociation, comprenant : ») introduces a production."""
    return bool(_EVALUATIVE.search(text)) and not _NOT_CRITERION.search(text)


def read_grid(file: str, pages: list[Page]) -> Reading:
    """A block / competency / modality / criteria grid (see the module docstring).

    Two passes: blocks and competencies first, because a column of criteria may be printed before
    the column of the competencies its mark names; then the criteria, in document order."""
    reading = Reading(file=file, kind=SourceKind.GRID)
    items = _marks_completed(units(pages))
    keyed = sum(_key(u.text) is not None for u in items) >= KEYED_MARKS
    opened = _blocks_and_competencies(file, items, reading, keyed=keyed)
    seen = Counter(_plain(u.text) for u in items)
    block: ReadBlock | None = None
    targets: list[ReadCompetency] = []  # the competencies the current mark names
    heading: str | None = None
    heading_ok = False  # items under an evaluative heading (« … contient : ») are criteria
    knowledge = False
    marked = False  # the unit before was a criteria mark
    for index, unit in enumerate(items):
        text = unit.text
        found = opened.get(index)
        if isinstance(found, ReadBlock):
            block, targets, heading, heading_ok = found, [], None, False
            continue
        if block is None:
            continue
        if (key := _key(text)) is not None:
            codes, rest = key
            targets = [c for c in block.competencies if any(_same_or_under(c.code, code) for code in codes)]
            if targets and not targets[0].criteria:
                targets[0].criteria_key = codes[0] if len(codes) == 1 else None
                targets[0].shared_with = targets[1:]
            # What follows the mark on its line heads the criteria only if it reads as a criterion heading
            # (« En relation avec … C.3.2 : Un dossier comprenant : » lists a production instead).
            ok = bool(rest) and rest.endswith(":") and (rest.startswith("•") or _evaluative_heading(rest))
            heading, heading_ok = (rest.strip("• :"), True) if ok else (None, False)
            marked = True
            continue
        if isinstance(found, ReadCompetency):
            if not keyed:
                targets, heading, heading_ok = [found], None, False
            continue
        if _COMPETENCY.match(text):
            continue  # a code printed again, in a modality: not a criterion
        if match := _MODALITY.match(text):
            block.modalities.append(ReadModality(text=match.group(1), provenance=_where(file, unit)))
            continue
        if _ACTIVITY.match(text):
            heading, heading_ok = None, False  # an activity's tasks follow, not criteria
            continue
        if not targets:
            continue
        if _KNOWLEDGE.match(text):
            knowledge = True  # « Connaissances associées : » lists knowledge, not criteria
            continue
        if knowledge and unit.bullet and not _EVALUATIVE.search(text):
            continue
        knowledge = False
        just_marked, marked = marked, False
        if text.endswith(":"):
            # Right after a mark, a sentence ending with a colon heads its criteria (« La présentation
            # suit une trame : »); elsewhere it must say what is judged.
            after_mark = just_marked and (bool(_DETERMINER.match(text)) or _evaluative(text))
            ok = unit.bullet == "•" or after_mark or _evaluative_heading(text)
            heading, heading_ok = (text.rstrip(" :").strip() if ok else None), ok
            continue
        if _repeated(_plain(text), seen):
            continue  # « Les critères restent les mêmes. » after every modality: a note, not a criterion
        if _evaluative(text) or (heading_ok and unit.bullet == "-"):
            criterion = ReadCriterion(text=text.rstrip(" ,;"), provenance=_where(file, unit), heading=heading)
            targets[0].criteria.append(criterion)
    return reading


def _blocks_and_competencies(
    file: str, items: list[Unit], reading: Reading, *, keyed: bool
) -> dict[int, ReadBlock | ReadCompetency]:
    """The blocks and competencies of a grid, added to ``reading``; by the index of the unit that opens each."""
    block_pattern = next((p for p in (_BLOCK, _ACTIVITY_BLOCK) if any(p.match(u.text) for u in items)), _NUMBERED_BLOCK)
    opened: dict[int, ReadBlock | ReadCompetency] = {}
    block: ReadBlock | None = None
    for index, unit in enumerate(items):
        text = unit.text
        if (match := block_pattern.match(text)) and _next_block(block_pattern, match, len(reading.blocks)):
            block = ReadBlock(title=match.group(2).strip(), code=f"B{match.group(1)}", provenance=_where(file, unit))
            reading.blocks.append(block)
            opened[index] = block
            continue
        if block is None or _key(text) is not None:
            continue
        competency: ReadCompetency | None = None
        if (match := _COMPETENCY.match(text)) and not _known_group(block, match.group(1)):
            competency = ReadCompetency(statement=match.group(2), code=match.group(1), provenance=_where(file, unit))
        elif not keyed and unit.bullet == "" and _INFINITIVE.match(text) and not _evaluative(text):
            # A grid without codes: a competency is a statement that starts with its verb.
            competency = ReadCompetency(statement=text, provenance=_where(file, unit))
        if competency is not None:
            block.competencies.append(competency)
            opened[index] = competency
    return opened


def _repeated(plain: str, seen: Counter[str]) -> bool:
    """Printed ``BOILERPLATE_REPEATS`` times or more, OCR variants (« critéeres ») included."""
    if seen[plain] >= BOILERPLATE_REPEATS:
        return True
    return sum(n for other, n in seen.items() if fuzz.ratio(plain, other) >= SAME_NOTE) >= BOILERPLATE_REPEATS


def _plain(text: str) -> str:
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", text.casefold()))


def _marks_completed(items: list[Unit]) -> list[Unit]:
    """A mark whose codes go on over the next lines (« … compétences C.3.2.2 & » then « C.3.2.3 »)
    gets them back."""
    result: list[Unit] = []
    for unit in items:
        previous = result[-1] if result else None
        mark = previous is not None and _KEY_RELATION.match(previous.text) and not previous.text.endswith(":")
        if previous is not None and mark and _CODES_ONLY.match(unit.text):
            previous.text = f"{previous.text} {unit.text}"
            continue
        result.append(unit)
    return result


def _known_group(block: ReadBlock, code: str) -> bool:
    """A code printed again (« C.2.4 Une analyse… » in a modality) or naming a group of competencies
    already read (C.2.3 for C.2.3a…) is not a new competency."""
    return any(c.code == code or _same_or_under(c.code, code) for c in block.competencies)


def _next_block(pattern: re.Pattern[str], match: re.Match[str], count: int) -> bool:
    """Headings « 1 - … » are blocks only when numbered in order (1, 2, 3…): a numbered list is not."""
    return pattern is not _NUMBERED_BLOCK or int(match.group(1)) == count + 1


def _key(text: str) -> tuple[list[str], str] | None:
    """The competency codes a criteria mark names, and what follows the mark on its line."""
    if match := _KEY_ALONE.match(text):
        return [match.group(1)], ""
    if match := _KEY_FOR.match(text):
        return [match.group(1)], match.group(2)
    if match := _KEY_RELATION.match(text):
        codes_part = match.group(1)
        codes = _CODE.findall(codes_part)
        rest = _CODE.sub("", codes_part).strip(" &,")
        if not codes or (rest and rest not in ("et",)):
            return None  # « En relation avec les compétences C.2.1 Un plan… » names a production, not criteria
        return codes, match.group(2) or ""
    return None


def _same_or_under(code: str | None, key: str) -> bool:
    """« C.1.1 » names C.1.1 itself and the competencies printed under it (C.1.1a, C.1.1b)."""
    if code is None:
        return False
    return code == key or (code.startswith(key) and code[len(key) :].isalpha())
