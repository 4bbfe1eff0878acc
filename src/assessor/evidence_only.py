"""The embedded default: an evidence-only assessor that makes no judgement.

With no language model configured, Assessor still pre-reads a dossier: for each criterion it
shows the passages retrieval found and says whether evidence was found at all. It never
says whether a criterion is met:

* ``non_evaluable_ecrit`` when every modality behind the criterion is oral or a role play;
* ``preuves_insuffisantes`` when no retrieved passage contains at least
  ``EvidenceOnlySettings.threshold`` of the criterion's key terms;
* ``a_examiner`` otherwise: "evidence to examine", with the best sentence of each passage
  quoted verbatim, for a person to read.

The threshold is calibrated on the annotated sample dossiers by ``evals/calibrate_evidence_only.py``:
the largest value that still shows passages for at least 95 % of the criteria that have gold
evidence (hiding evidence from a jury is the costlier error). Every result carries the
``sans_ia`` flag and says, in words, that it is not an AI judgement. It is also the baseline
that every model run is compared with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from assessor.analysis import analyze
from assessor.chunking import Chunk
from assessor.citations import verify_citations
from assessor.referential import Criterion, CriterionLevel
from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Flag, Mode, Status, percent
from assessor.retrieval import Passage, Retriever

MODEL_NAME = "evidence-only"
NOT_AI = "Repérage automatique des passages, sans jugement : ce n'est pas une évaluation par une IA."
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")  # « 4.3 » or « 1,2 M€. » do not end a sentence mid-number
MAX_QUOTE_CHARS = 300


class EvidenceOnlySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        default=0.23,
        ge=0,
        le=1,
        description="Share of the criterion's key terms a passage must contain to count as evidence "
        "(calibrated by evals/calibrate_evidence_only.py).",
    )
    passages: int = Field(default=3, ge=1, le=10, description="Passages quoted per criterion.")


def key_terms(criterion: Criterion) -> set[str]:
    """The analysed terms of a criterion's text and group heading."""
    return set(analyze(f"{criterion.text} {criterion.group or ''}"))


def coverage(terms: set[str], text: str) -> float:
    """Share of ``terms`` that occur in ``text`` (after the same French analysis)."""
    return len(terms & set(analyze(text))) / len(terms) if terms else 0.0


def _sentences(text: str) -> list[str]:
    """Table rows, and sentences of the rest (a PDF line break is not a sentence end)."""
    units: list[str] = []
    prose: list[str] = []
    for line in [*text.split("\n"), ""]:
        if " | " in line or not line.strip():
            units += [s.strip() for s in _SENTENCE_END.split(" ".join(prose)) if s.strip()]
            prose = []
            if line.strip():
                units.append(line.strip())
        else:
            prose.append(line.strip())
    return [u for u in units if len(u.split()) >= 3]


def best_sentence(terms: set[str], chunk: Chunk) -> str:
    """The passage's sentence (or table row) that holds most of the terms, cut at a word if long.

    Line breaks inside the sentence become spaces: the quote is verbatim up to whitespace,
    which is how citations are verified."""
    sentences = _sentences(chunk.text) or [" ".join(chunk.text.split())]
    best = max(sentences, key=lambda s: coverage(terms, s))
    if len(best) > MAX_QUOTE_CHARS:
        best = best[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0]
    return best


# Evaluative words of criteria: their absence from a dossier says nothing about the topic.
_EVALUATIVE = set(
    analyze(
        "correctement précisément clairement suffisamment réaliste pertinent cohérent complet différents "
        "identifiés repérés analysés définis évalués justifiés formulés présentés établis décrits entreprise "
        "ensemble manière façon compte regard"
    )
)


def _missing_terms(criterion: Criterion, passages: Sequence[Passage]) -> list[str]:
    """Topic words of the criterion that none of the closest passages contains."""
    found = set().union(*(set(analyze(p.chunk.text)) for p in passages)) if passages else set()
    words = [w for w in re.findall(r"[^\W\d_]{4,}", criterion.text) if not set(analyze(w)) <= _EVALUATIVE]
    missing = [w for w in dict.fromkeys(words) if set(analyze(w)) and not set(analyze(w)) & found]
    if not missing:
        return []
    return ["Termes du critère absents des passages les plus proches : " + ", ".join(f"« {w} »" for w in missing[:6])]


def assess(
    criterion: Criterion,
    retriever: Retriever,
    *,
    siblings: Sequence[Criterion] = (),
    mode: Mode = Mode.JURY,
    settings: EvidenceOnlySettings | None = None,
) -> CriterionResult:
    """The evidence-only result for one criterion (see the module docstring)."""
    settings = settings or EvidenceOnlySettings()
    base = {
        "criterion_id": criterion.id,
        "criterion_text": criterion.text,
        "competency_level": criterion.level is CriterionLevel.COMPETENCY,
        "block": criterion.block,
        "model": MODEL_NAME,
        "confidence": None,
    }
    if not criterion.written_assessable:
        return CriterionResult(
            **base,
            outcome="non_evaluable_ecrit",
            rationale="Compétence évaluée à l'oral ou en mise en situation : elle ne peut pas être établie "
            f"à partir des pièces écrites. {NOT_AI}",
            flags=[Flag.EVIDENCE_ONLY, Flag.NOT_ASSESSABLE_IN_WRITING],
            status=Status.NOT_ASSESSED,
        )
    terms = key_terms(criterion)
    passages = retriever.search_criterion(criterion, k=max(settings.passages, 5), siblings=siblings)
    scored = sorted(((coverage(terms, p.chunk.text), p) for p in passages), key=lambda item: -item[0])
    evidence = [p for score, p in scored if score >= settings.threshold][: settings.passages]
    best = scored[0][0] if scored else 0.0
    if not evidence:
        return CriterionResult(
            **base,
            outcome="preuves_insuffisantes",
            rationale=f"Aucun passage ne contient au moins {percent(settings.threshold)} des termes du critère "
            f"(meilleur passage : {percent(best)}). Le dossier ne semble pas traiter ce point ; à confirmer par "
            f"le jury. {NOT_AI}",
            missing=_missing_terms(criterion, [p for _, p in scored]),
            feedback=_feedback(criterion, mode, found=False),
            flags=[Flag.EVIDENCE_ONLY],
            status=Status.PROPOSED,
            evidence_ids=[p.chunk.id for p in passages],
        )
    chunks = {p.chunk.id: p.chunk for p in passages}
    citations = verify_citations([(p.chunk.id, best_sentence(terms, p.chunk)) for p in evidence], chunks)
    flags = [Flag.EVIDENCE_ONLY]
    if any(c.ocr for c in citations):
        flags.append(Flag.OCR_PAGE)
    if not all(c.verified for c in citations):
        flags.append(Flag.UNVERIFIED_CITATION)
    places = ", ".join(dict.fromkeys(f"{c.file} ({c.locator})" for c in citations))
    return CriterionResult(
        **base,
        outcome=EVIDENCE_TO_EXAMINE,
        rationale=f"{len(evidence)} passage(s) à examiner ({places}) : jusqu'à {percent(best)} des termes du "
        f"critère y figurent. Leur présence ne dit pas si le critère est satisfait : le jury en juge. {NOT_AI}",
        citations=citations,
        feedback=_feedback(criterion, mode, found=True),
        flags=flags,
        status=Status.PROPOSED if all(c.verified for c in citations) else Status.NEEDS_REVIEW,
        evidence_ids=[p.chunk.id for p in passages],
    )


def _feedback(criterion: Criterion, mode: Mode, *, found: bool) -> str:
    if mode is Mode.JURY:
        return ""
    if found:
        return (
            "Des passages semblent traiter ce point : relisez-les au regard du critère et vérifiez qu'ils "
            "en apportent la preuve, avec des éléments concrets (chiffres, exemples, justification)."
        )
    return (
        f"Le dossier ne semble pas traiter ce point : « {criterion.text} ». Ajoutez une partie qui "
        "l'aborde explicitement, avec des éléments concrets."
    )
