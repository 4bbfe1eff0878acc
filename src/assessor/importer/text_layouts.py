"""Référentiel layouts read from text, line by line: the REAC's competency sheets and the
block / competency / modality / criteria grids.

Both work on *units*: a line and the lines that continue it (a wrapped line starts with a small
letter, or follows a line that ends mid-sentence), so that a criterion wrapped over several
lines, or cut by a page break, is read whole.

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
from dataclasses import dataclass

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


_BULLET = re.compile(r"^([-–•●▪➢►*])\s+")
_ENDS = (".", ":", "!", "?", ";")
_NEW_SECTION = re.compile(
    r"^(Bloc\b|BLOC\b|Activité\s*\d|ACTIVITE\s*\d|N°\s*\d|Pour\s+C|En relation avec|C[\d.]*\d[a-z]?\s*[.\-–:]?\s)"
)


def units(pages: list[Page], *, capital_starts: bool = False) -> list[Unit]:
    """Lines joined into units (see the module docstring). With ``capital_starts``, a line that starts
    with a capital always starts a unit (lists printed without punctuation, as a REAC's criteria)."""
    result: list[Unit] = []
    blank = False
    for page in pages:
        for index, raw in enumerate(page.lines, start=1):
            line = clean(raw)
            if not line:
                blank = True
                continue
            bullet = _BULLET.match(line)
            last = result[-1] if result else None
            continues = (
                last is not None
                and bullet is None
                and not _NEW_SECTION.match(line)
                and (
                    line[0].islower()
                    or line[0] in "(),;"
                    or (not capital_starts and not blank and not last.text.endswith(_ENDS))
                )
                and not _heading_line(last.text)
            )
            if continues and last is not None:
                joiner = "" if last.text.endswith("-") and line[0].islower() and last.text[-2:-1].isalpha() else " "
                last.text = (last.text[:-1] if joiner == "" else last.text) + joiner + line
            else:
                text = line[bullet.end() :] if bullet else line
                mark = "" if bullet is None else ("•" if bullet.group(1) in "•●▪➢►" else "-")
                result.append(Unit(text, page.number, index, mark))
            blank = False
    return result


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
_COMPETENCY = re.compile(r"^(C\.?\d+(?:\.\d+)*[a-z]?)\s*[-–.:]?\s+([A-ZÀÂÉÈÊÎÔÛ].*)$")
_KEY_ALONE = re.compile(r"^(C\.?\d+(?:\.\d+)*[a-z]?)\s*\.\s*$")
_KEY_FOR = re.compile(r"^Pour\s+(C\.?\d+(?:\.\d+)*[a-z]?)\s*:?\s*(.*)$")
_KEY_RELATION = re.compile(r"^(?:\d+\s*/\s*)?En relation avec (?:les |la )?compétences?\s+(.+?)\s*:\s*(.*)$", re.I)
_CODE = re.compile(r"C\.?\d+(?:\.\d+)*[a-z]?")
_MODALITY = re.compile(r"^M\d+\s*[–-]\s*(\S.*)$")
_INFINITIVE = re.compile(r"^[A-ZÀÂÉÈÊÎÔÛ][a-zàâçéèêëîïôûù'’-]+(er|ir|re|oir)\b")
_EVALUATIVE = re.compile(
    r"\b(est|sont|a été|ont été|sera|seront|permet|permettent|respecte|respectent|répond|répondent|"
    r"couvre|couvrent|intègre|intègrent|contient|contiennent|comporte|comportent|correspond|correspondent|"
    r"tient compte|tiennent compte|prend en compte|prennent en compte|s['’]appuie|s['’]appuient|"
    r"met en évidence|mettent en évidence|se basent|se base|démontre|démontrent|reflète|reflètent|"
    r"mentionne|mentionnent|favorise|favorisent|garantit|garantissent|assure|assurent|traduit|traduisent)\b"
)
_NOT_CRITERION = re.compile(r"\b(le|la|les|du|au) candidat|candidat\.e|\bdurée\b", re.I)


def _evaluative(text: str) -> bool:
    return bool(_EVALUATIVE.search(text)) and not _NOT_CRITERION.search(text) and not _INFINITIVE.match(text)


def read_grid(file: str, pages: list[Page]) -> Reading:
    """A block / competency / modality / criteria grid (see the module docstring)."""
    reading = Reading(file=file, kind=SourceKind.GRID)
    items = units(pages)
    block_pattern = _BLOCK if any(_BLOCK.match(u.text) for u in items) else _ACTIVITY_BLOCK
    keyed = any(_key(u.text) is not None for u in items)
    block: ReadBlock | None = None
    competency: ReadCompetency | None = None
    targets: list[ReadCompetency] = []  # the competencies the current mark names
    heading: str | None = None
    heading_ok = False  # items under an evaluative heading (« … contient : ») are criteria
    for unit in items:
        text = unit.text
        if match := block_pattern.match(text):
            block = ReadBlock(title=match.group(2).strip(), code=f"B{match.group(1)}", provenance=_where(file, unit))
            reading.blocks.append(block)
            competency, targets, heading, heading_ok = None, [], None, False
            continue
        if block is None:
            continue
        if (key := _key(text)) is not None:
            codes, rest = key
            targets = [c for c in block.competencies if any(_same_or_under(c.code, code) for code in codes)]
            heading, heading_ok = None, False
            if rest:
                heading, heading_ok = rest.rstrip(" :"), rest.endswith(":")
            continue
        if match := _COMPETENCY.match(text):
            competency = ReadCompetency(statement=match.group(2), code=match.group(1), provenance=_where(file, unit))
            block.competencies.append(competency)
            if not keyed:
                targets, heading, heading_ok = [competency], None, False
            continue
        if match := _MODALITY.match(text):
            block.modalities.append(ReadModality(text=match.group(1), provenance=_where(file, unit)))
            continue
        if not keyed and unit.bullet == "" and _INFINITIVE.match(text) and not _evaluative(text):
            competency = ReadCompetency(statement=text, provenance=_where(file, unit))
            block.competencies.append(competency)
            targets, heading, heading_ok = [competency], None, False
            continue
        if not targets:
            continue
        if text.endswith(":") and (unit.bullet == "•" or _evaluative(text) or len(text.split()) <= 12):
            heading, heading_ok = text.rstrip(" :").strip(), True
            continue
        if _evaluative(text) or (heading_ok and unit.bullet == "-"):
            criterion = ReadCriterion(text=text.rstrip(" ,;"), provenance=_where(file, unit), heading=heading)
            targets[0].criteria.append(criterion)
    return reading


def _key(text: str) -> tuple[list[str], str] | None:
    """The competency codes a criteria mark names, and what follows the mark on its line."""
    if match := _KEY_ALONE.match(text):
        return [match.group(1)], ""
    if match := _KEY_FOR.match(text):
        return [match.group(1)], match.group(2)
    if match := _KEY_RELATION.match(text):
        return _CODE.findall(match.group(1)), match.group(2)
    return None


def _same_or_under(code: str | None, key: str) -> bool:
    """« C.1.1 » names C.1.1 itself and the competencies printed under it (C.1.1a, C.1.1b)."""
    if code is None:
        return False
    return code == key or (code.startswith(key) and code[len(key) :].isalpha())
