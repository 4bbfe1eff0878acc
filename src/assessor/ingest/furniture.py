"""What a careful reader skips, set aside from the evidence but kept: page furniture and boilerplate.

A PDF's pages are read (``ingest.layout``), then, looking at the whole document:

* **running headers and footers**: lines in the top or bottom margin band whose text, page
  numbers and dates aside, comes back on many pages (at least ``RUNNING_SHARE`` of them and
  two); a page number alone in a margin band (« 12 », « Page 3 / 15 »);
* **template lines**: a short line repeated word for word at the same place on many pages (a
  slide template's side menu, a form's fixed labels);
* **tables of contents**: a page titled « Sommaire », « Table des matières »… or made mostly of
  entries ending with a page reference;
* **a cover page**: the first page when it holds only a few words and no sentence;
* **official template text** (``TEMPLATE_PASSAGES``): the fixed explanations and declarations
  of the Titre professionnel's « dossier professionnel » and of the BTS activity sheets.

A line that merely repeats in the body of the pages is never set aside (only margin lines, and
short lines at exactly the same place), and no page loses more than half of its body lines to
repetition: a PDF whose pages all say similar things keeps its text. What is set aside stays with
its page (``Page.set_aside``), for display and for the record, out of the passages.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from assessor.ingest.layout import Line, PageLayout, toc_like

RUNNING_SHARE = 0.3
"""A margin line recurring on at least this share of the pages (and two) is a running header or footer."""

MARGIN_BAND = 0.1
"""The top and bottom bands of a page where headers and footers sit, as a share of its height."""

ISOLATION = 0.6
"""A header or footer stands apart from the body by at least this many line heights."""

COVER_MAX_WORDS = 60

TEMPLATE_LINE_WORDS = 8
"""A template line (a slide's side menu, a form's label) is short and comes back word for word, at
the same place, on many pages."""


class SetAsideKind(StrEnum):
    HEADER = "en_tete"
    FOOTER = "pied_de_page"
    PAGE_NUMBER = "numero_de_page"
    TEMPLATE_LINE = "ligne_de_gabarit"
    TOC = "sommaire"
    COVER = "page_de_garde"
    TEMPLATE_TEXT = "texte_du_modele"
    VERTICAL = "texte_vertical"


SET_ASIDE_LABELS: dict[SetAsideKind, str] = {
    SetAsideKind.HEADER: "en-tête répété",
    SetAsideKind.FOOTER: "pied de page répété",
    SetAsideKind.PAGE_NUMBER: "numéro de page",
    SetAsideKind.TEMPLATE_LINE: "ligne de gabarit répétée",
    SetAsideKind.TOC: "sommaire",
    SetAsideKind.COVER: "page de garde",
    SetAsideKind.TEMPLATE_TEXT: "texte fixe du modèle officiel",
    SetAsideKind.VERTICAL: "texte vertical",
}

TEMPLATE_PASSAGES: tuple[str, ...] = (
    # Titre professionnel: dossier professionnel (DP), version du 11/09/2017.
    "Le dossier professionnel (DP) constitue un élément du système de validation du titre professionnel",
    "Ce titre est délivré par le Ministère chargé de l'emploi",
    "Le DP appartient au candidat",
    "Il le conserve, l'actualise durant son parcours et le présente obligatoirement",
    "Pour rédiger le DP, le candidat peut être aidé par un formateur",
    "Il est consulté par le jury au moment de la session d'examen",
    "Pour prendre sa décision, le jury dispose",
    "des résultats de la mise en situation professionnelle complétés",
    "professionnel ou de l'entretien professionnel ou de l'entretien technique",
    "du Dossier Professionnel (DP) dans lequel le candidat a consigné les preuves",
    "des résultats des évaluations passées en cours de formation lorsque le candidat évalué est issu d'un",
    "Présentation du dossier",
    "Exemples de pratique professionnelle",
    "de l'entretien final (dans le cadre de la session titre)",
    "Arrêté du 22 décembre 2015, relatif aux conditions de délivrance des titres professionnels",
    "du ministère chargé de l'Emploi",
    "Ce dossier comporte",
    "pour chaque activité-type du titre visé, un à trois exemples de pratique professionnelle",
    "un tableau à renseigner si le candidat souhaite porter à la connaissance du jury",
    "diplôme, d'un certificat de qualification professionnelle (CQP) ou des attestations de formation",
    "une déclaration sur l'honneur à compléter et à signer",
    "des documents illustrant la pratique professionnelle du candidat (facultatif)",
    "des annexes, si nécessaire",
    "Pour compléter ce dossier, le candidat dispose d'un site web en accès libre",
    "http://travail-emploi.gouv.fr/titres-professionnels",
    "Je soussigné(e) [prénom et nom]",
    "déclare sur l'honneur que les renseignements fournis dans ce dossier sont exacts",
    "l'auteur(e) des réalisations jointes",
    "Fait à",
    "pour faire valoir ce que de droit",
    "Signature :",
    "Cliquez ici pour taper du texte",
    "Cliquez ici pour choisir une date",
    "(Si le RC le prévoit)",
    # The fixed pages and fields after the examples: qualifications, declaration, documents, annexes.
    "Titres, diplômes, CQP, attestations de formation",
    "Intitulé Autorité ou organisme Date",
    "Déclaration sur l'honneur",
    "Documents illustrant la pratique professionnelle",
    "(facultatif)",
    "Intitulé",
    "ANNEXES",
    "Nom de l'entreprise, organisme ou association",
    "Chantier, atelier, service",
    "Période d'exercice",
)
"""Fixed text of official templates, as printed (each compared without case, accents or punctuation)."""

_TOC_TITLES = frozenset(
    {
        "sommaire",
        "table des matieres",
        "tabledesmatieres",
        "contents",
        "table of contents",
        "contenu",
        "plan",
        "summary",
    }
)
_PAGE_NUMBER = re.compile(
    r"^\W*(?:page|p\.)?\s*\d{1,4}(?:\s*(?:/|sur|of|de)\s*\d{1,4})?\W*$|^\W*[ivxlc]{1,6}\W*$", re.I
)


def _plain(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces: how boilerplate is compared."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").casefold())
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


_TEMPLATE_PLAIN = tuple(p for p in (_plain(t) for t in TEMPLATE_PASSAGES) if p)


def _signature(text: str) -> str:
    """A line as it recurs from page to page: numbers (pages, dates) and spacing do not count."""
    return re.sub(r"[^a-z#]", "", re.sub(r"\d+", "#", _plain(text)))


@dataclass
class PageReading:
    """A page once its furniture is set aside: the text to index, what was set aside, its headings."""

    text: str
    set_aside: list[tuple[SetAsideKind, str]] = field(default_factory=list)
    headings: list[tuple[str, int]] = field(default_factory=list)


TEMPLATE_HEADINGS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^activit[ée]\W*type\s*(?:n\s*°\s*)?\d", re.I), 1),
    (re.compile(r"^exemple\s*n\s*°\s*\d", re.I), 2),
    (
        re.compile(r"^\d\s*[.)]\s*(?:d[ée]crivez|pr[ée]cisez|avec qui|contexte|informations compl[ée]mentaires)", re.I),
        3,
    ),
)
"""The structure of the Titre professionnel's « dossier professionnel »: activity, example, the
fixed questions of an example. Headings of the candidate's own come below them."""


def _template_level(text: str) -> int | None:
    return next((level for pattern, level in TEMPLATE_HEADINGS if pattern.match(text.strip())), None)


def _headings(layouts: Sequence[PageLayout], dropped: Sequence[set[int]]) -> list[list[tuple[str, int]]]:
    """Each page's lines that are headings of the official template (activity, example, fixed
    questions), with their levels, so that every passage of an example carries its competency.

    Bold or larger lines of the candidate's own are not taken for headings: cutting passages at
    each of them made passages too short to be found (recall@5 on the labelled dossiers, real
    and sample, fell by a tenth).
    """
    return [
        [
            (line.text, level)
            for line in layout.lines
            if id(line) not in gone and (level := _template_level(line.text)) is not None
        ]
        for layout, gone in zip(layouts, dropped, strict=True)
    ]


def _template_covered(text: str) -> float:
    """How much of a block (0 to 1) is official template text."""
    plain = _plain(text)
    if not plain:
        return 0.0
    covered = sum(len(passage) + 1 for passage in _TEMPLATE_PLAIN if len(passage) >= 12 and passage in plain)
    short = sum(len(passage) + 1 for passage in _TEMPLATE_PLAIN if len(passage) < 12 and plain == passage)
    return min(1.0, (covered + short) / (len(plain) + 1))


def _margin_lines(layout: PageLayout) -> tuple[list[Line], list[Line]]:
    """The lines a header or footer may be: in the top (bottom) band, and set apart from the body by
    a space at least ``ISOLATION`` times a line's height (a header is never the first line of a
    paragraph)."""
    ordered = sorted(layout.lines, key=lambda line: line.top)
    band = MARGIN_BAND * layout.height
    top: list[Line] = []
    for index, line in enumerate(ordered[:3]):
        if line.bottom > band:
            break
        below = ordered[index + 1] if index + 1 < len(ordered) else None
        if below is not None and below.top > band and below.top - line.bottom < ISOLATION * line.height:
            break
        top.append(line)
    bottom: list[Line] = []
    for index in range(len(ordered) - 1, max(len(ordered) - 4, -1), -1):
        line = ordered[index]
        if line.top < layout.height - band:
            break
        above = ordered[index - 1] if index > 0 else None
        if (
            above is not None
            and above.bottom < layout.height - band
            and line.top - above.bottom < ISOLATION * line.height
        ):
            break
        bottom.append(line)
    return top, bottom


def _is_toc(layout: PageLayout) -> bool:
    lines = [line for line in layout.lines if line.text.strip()]
    if not lines:
        return False
    titled = any(_plain(line.text) in _TOC_TITLES for line in lines[:6])
    entries = sum(toc_like(line.text.replace(" | ", " ")) for line in lines)
    words = sum(len(line.text.split()) for line in lines)
    return (titled and (entries >= 3 or words <= 150)) or (entries >= 4 and entries >= 0.5 * len(lines))


def _is_cover(layout: PageLayout) -> bool:
    lines = [line.text for line in layout.lines if line.text.strip()]
    words = sum(len(text.split()) for text in lines)
    sentence = any(len(text.split()) >= 10 and text.rstrip().endswith((".", "!", "?")) for text in lines)
    return 0 < words <= COVER_MAX_WORDS and not sentence


def set_aside(layouts: Sequence[PageLayout]) -> list[PageReading]:
    """Each page's text without its furniture and boilerplate (see the module docstring)."""
    count = len(layouts)
    threshold = max(2, math.ceil(RUNNING_SHARE * count))
    margins = [_margin_lines(layout) for layout in layouts]
    seen: Counter[str] = Counter()
    for top, bottom in margins:
        seen.update({_signature(line.text) for line in top + bottom})
    placed: Counter[tuple[str, int, int]] = Counter()
    for layout in layouts:
        placed.update({(_plain(line.text), round(line.top / 8), round(line.x0 / 8)) for line in layout.lines})
    readings: list[PageReading] = []
    gone: list[set[int]] = []
    for number, (layout, (top, bottom)) in enumerate(zip(layouts, margins, strict=True), start=1):
        reading = PageReading(text="")
        dropped: dict[int, SetAsideKind] = {}
        for kind, band in ((SetAsideKind.HEADER, top), (SetAsideKind.FOOTER, bottom)):
            for line in band:
                signature = _signature(line.text)
                if _PAGE_NUMBER.match(line.text.replace(" | ", " ")):
                    dropped[id(line)] = SetAsideKind.PAGE_NUMBER
                elif count >= 2 and signature and seen[signature] >= threshold:
                    dropped[id(line)] = kind
        body = [line for line in layout.lines if id(line) not in dropped]

        def template_line(line: Line) -> bool:
            return (
                count >= 3
                and len(line.text.split()) <= TEMPLATE_LINE_WORDS
                and not line.text.rstrip().endswith((".", "!", "?"))  # a sentence is content
                and placed[(_plain(line.text), round(line.top / 8), round(line.x0 / 8))] >= max(3, threshold)
            )

        # A template line stands in a block of template lines: never the last words of a paragraph.
        repeated = [
            line
            for block in layout.blocks
            if all(template_line(ln) for ln in block.lines if id(ln) not in dropped)
            for line in block.lines
            if id(line) not in dropped
        ]
        if len(repeated) <= len(body) / 2:  # a page of repeated content keeps its text
            dropped.update({id(line): SetAsideKind.TEMPLATE_LINE for line in repeated})
        whole: SetAsideKind | None = None
        if _is_toc(layout):
            whole = SetAsideKind.TOC
        elif number == 1 and count > 1 and _is_cover(layout):
            whole = SetAsideKind.COVER
        for block in layout.blocks:
            kept = [line for line in block.lines if id(line) not in dropped]
            if whole is not None:
                dropped.update({id(line): whole for line in kept})
            elif kept and _template_covered(" ".join(line.text for line in kept)) >= 0.6:
                dropped.update({id(line): SetAsideKind.TEMPLATE_TEXT for line in kept})
        for line in layout.lines:
            if id(line) in dropped:
                reading.set_aside.append((dropped[id(line)], line.text))
        reading.text = layout.render(set(dropped))
        readings.append(reading)
        gone.append(set(dropped))
    for reading, headings in zip(readings, _headings(layouts, gone), strict=True):
        reading.headings = headings
    return readings


def page_list(numbers: Sequence[int]) -> str:
    """« 3 », « 3 et 5 », « 1, 2 et 5 », « 3 à 6 et 9 »: page numbers for a French note."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    parts: list[str] = []
    for a, b in runs:
        parts += [f"{a} à {b}"] if b - a >= 2 else [str(n) for n in range(a, b + 1)]
    return ", ".join(parts[:-1]) + " et " + parts[-1] if len(parts) > 1 else parts[0]
