"""Combining sources: the first gives the blocks, codes and modalities (the open data when there is
one); the others add their criteria to the competencies they match, by code or by statement."""

from __future__ import annotations

from rapidfuzz import fuzz

from assessor.importer.reading import ReadCompetency, ReadCriterion, Reading, SourceKind, Unread
from assessor.importer.split import clean

SAME_COMPETENCY = 90.0
"""rapidfuzz token_sort_ratio from which two statements name the same competency. Strict on purpose:
« Mettre en place une base de données » is not « … relationnelle » of another title; a competency
left unmatched is listed as not taken up, for a person to decide."""

SAME_CRITERION = 85.0
"""rapidfuzz ratio from which a criterion read again (the RC repeats the REAC's) is a duplicate."""


def comparable(text: str) -> str:
    """Lower case, straight apostrophes, single spaces, no final punctuation: for comparisons only."""
    text = clean(text).casefold().replace("’", "'").replace("œ", "oe")
    return text.rstrip(" .,;:")


def order_sources(readings: list[Reading]) -> list[Reading]:
    """The open data first (it has the codes and modalities), then the other sources as given."""
    return sorted(readings, key=lambda r: r.kind is not SourceKind.OPEN_DATA)


def merge(readings: list[Reading]) -> tuple[Reading, list[Unread]]:
    """One reading: the first source's blocks with every source's criteria; what could not be matched."""
    base, *others = order_sources(readings)
    unread = list(base.unread)
    for other in others:
        unread += other.unread
        for competency in other.competencies:
            if not competency.criteria:
                continue
            target = _match(base.competencies, competency)
            if target is None:
                unread.append(
                    Unread(
                        competency.provenance,
                        f"compétence « {competency.statement} » introuvable dans {base.file} : "
                        + _not_taken(len(competency.criteria)),
                    )
                )
                continue
            _add_criteria(target, competency.criteria)
        base.title = base.title or other.title
    return base, unread


def _match(candidates: list[ReadCompetency], wanted: ReadCompetency) -> ReadCompetency | None:
    if wanted.code:
        same_code = [c for c in candidates if c.code and c.code.casefold() == wanted.code.casefold()]
        if len(same_code) == 1:
            return same_code[0]
    scored = [(fuzz.token_sort_ratio(comparable(c.statement), comparable(wanted.statement)), c) for c in candidates]
    best = max(scored, key=lambda pair: pair[0], default=None)
    if best is None or best[0] < SAME_COMPETENCY:
        return None
    if sum(score == best[0] for score, _ in scored) > 1:
        return None  # two competencies as close: say so rather than guess
    return best[1]


def _add_criteria(target: ReadCompetency, criteria: list[ReadCriterion]) -> None:
    for criterion in criteria:
        seen = (comparable(c.text) for c in target.criteria)
        if not any(fuzz.ratio(comparable(criterion.text), s) >= SAME_CRITERION for s in seen):
            target.criteria.append(criterion)


def _not_taken(n: int) -> str:
    return "son critère n'est pas repris" if n < 2 else f"ses {n} critères ne sont pas repris"
