"""The embedded default: an evidence-only assessor that makes no judgement.

With no language model configured, Assessor still pre-reads a dossier: for each criterion it
shows the passages retrieval found and says whether evidence was found at all. It never
says whether a criterion is met:

* ``non_evaluable_ecrit`` when every modality behind the criterion is oral or a role play;
* ``preuves_insuffisantes`` when no retrieved passage contains at least
  ``EvidenceOnlySettings.threshold`` of the criterion's topic terms (its analysed words, less
  the evaluative ones such as « pertinent » or « correctement », which say nothing about what
  the dossier is about);
* ``a_examiner`` otherwise: "evidence to examine", with the best sentence of each passage
  quoted verbatim, for a person to read. Between ``threshold`` and ``confident`` the signal is
  too weak to tell evidence from a passing mention: the result carries the ``signal_faible``
  flag and says so, rather than guessing either way (hiding evidence from a jury is the
  costlier error, so the passages are shown).

It reads the passages the pipeline retrieved once for the criterion (``assess`` takes them, it
does not search). Both thresholds are calibrated out of sample by
``evals/calibrate_evidence_only.py`` (leave one labelled dossier out, real and sample dossiers).
Every result carries the ``sans_ia`` flag and says, in words, that it is not an AI judgement.
It is also the baseline that every model run is compared with.

``referential_fit`` tells, for a whole dossier, how many of the chosen criteria find a passage
that treats them: a dossier that plainly answers another référentiel gets the dossier-level
alert ``dossier_hors_referentiel``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assessor.analysis import analyze, token_set
from assessor.chunking import Chunk
from assessor.citations import verify_citations
from assessor.referential import Criterion, CriterionLevel
from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Flag, Mode, ReferentialFit, Status, percent
from assessor.retrieval import Passage
from assessor.settings import EvidenceOnlySettings
from assessor.wording import counted

MODEL_NAME = "evidence-only"
NOT_AI = "Repérage automatique des passages, sans jugement : ce n'est pas une évaluation par une IA."
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")  # « 4.3 » or « 1,2 M€. » do not end a sentence mid-number
MAX_QUOTE_CHARS = 300

# Evaluative words of criteria: their absence from a dossier says nothing about the topic.
_EVALUATIVE = set(
    analyze(
        "correctement précisément clairement suffisamment réaliste pertinent cohérent complet différents "
        "identifiés repérés analysés définis évalués justifiés formulés présentés établis décrits entreprise "
        "ensemble manière façon compte regard"
    )
)


def key_terms(criterion: Criterion) -> set[str]:
    """The analysed terms of a criterion's text and group heading."""
    return set(token_set(f"{criterion.text} {criterion.group or ''}"))


def topic_terms(criterion: Criterion) -> set[str]:
    """The key terms that say what the criterion is about (all of them if every one is evaluative)."""
    terms = key_terms(criterion)
    return terms - _EVALUATIVE or terms


def evidence_score(criterion: Criterion, passages: Sequence[Passage]) -> float:
    """The best share of the criterion's topic terms found in one of ``passages``."""
    terms = topic_terms(criterion)
    return max((coverage(terms, p.chunk.text) for p in passages), default=0.0)


def coverage(wanted: set[str], text: str) -> float:
    """Share of the ``wanted`` terms that occur in ``text`` (after the same French analysis)."""
    return len(wanted & token_set(text)) / len(wanted) if wanted else 0.0


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
    return [u for u in units if len([w for w in u.split() if w != "|"]) >= 3]  # as many words as a citation needs


def best_sentence(terms: set[str], chunk: Chunk) -> str:
    """The passage's sentence (or table row) that holds most of the terms, cut at a word if long.

    Line breaks inside the sentence become spaces: the quote is verbatim up to whitespace,
    which is how citations are verified."""
    headings = {" ".join(h.split()) for h in chunk.heading_path}
    sentences = _sentences(chunk.text) or [" ".join(chunk.text.split())]
    # A heading repeats the template's or the criterion's words: the quote is what the candidate wrote.
    written = [s for s in sentences if " ".join(s.split()) not in headings] or sentences
    best = max(written, key=lambda s: coverage(terms, s))
    if len(best) > MAX_QUOTE_CHARS:
        best = best[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0]
    return best


def _missing_terms(criterion: Criterion, passages: Sequence[Passage]) -> list[str]:
    """Topic words of the criterion that none of the closest passages contains."""
    found = frozenset().union(*(token_set(p.chunk.text) for p in passages))
    words = [w for w in re.findall(r"[^\W\d_]{4,}", criterion.text) if not token_set(w) <= _EVALUATIVE]
    missing = [w for w in dict.fromkeys(words) if token_set(w) and not token_set(w) & found]
    if not missing:
        return []
    return ["Termes du critère absents des passages les plus proches : " + ", ".join(f"« {w} »" for w in missing[:6])]


def assess(
    criterion: Criterion,
    passages: Sequence[Passage],
    *,
    mode: Mode = Mode.JURY,
    settings: EvidenceOnlySettings | None = None,
) -> CriterionResult:
    """The evidence-only result for one criterion, from the passages retrieved for it (see the
    module docstring)."""
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
    terms = topic_terms(criterion)
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
    weak = best < settings.confident
    if weak:
        flags.append(Flag.WEAK_SIGNAL)
    if any(c.ocr for c in citations):
        flags.append(Flag.OCR_PAGE)
    if not all(c.verified for c in citations):
        flags.append(Flag.UNVERIFIED_CITATION)
    places = ", ".join(dict.fromkeys(f"{c.file} ({c.locator})" for c in citations))
    doubt = (
        f" Signal faible : le meilleur passage n'en contient que {percent(best)}, trop peu pour dire s'il traite "
        "le critère ou s'il l'évoque en passant ; lisez-le avant de conclure."
        if weak
        else ""
    )
    return CriterionResult(
        **base,
        outcome=EVIDENCE_TO_EXAMINE,
        rationale=f"{counted(len(evidence), 'passage')} à examiner ({places}) : jusqu'à {percent(best)} des termes du "
        f"critère y figurent.{doubt} Leur présence ne dit pas si le critère est satisfait : le jury en juge. "
        f"{NOT_AI}",
        citations=citations,
        feedback=_feedback(criterion, mode, found=True),
        flags=flags,
        status=Status.PROPOSED if all(c.verified for c in citations) and not weak else Status.NEEDS_REVIEW,
        evidence_ids=[p.chunk.id for p in passages],
    )


def referential_fit(
    results: Mapping[str, CriterionResult], criteria: Sequence[Criterion], settings: EvidenceOnlySettings | None = None
) -> ReferentialFit:
    """How many of the criteria assessable in writing found a passage holding at least ``threshold``
    of their topic terms: those whose evidence-only result (by criterion id) is « à examiner »."""
    settings = settings or EvidenceOnlySettings()
    written = [c for c in criteria if c.written_assessable]
    treated = sum(results[c.id].outcome == EVIDENCE_TO_EXAMINE for c in written)
    return ReferentialFit(
        criteria=len(written),
        treated=treated,
        coverage=round(treated / len(written), 4) if written else 0.0,
        threshold=settings.fit_threshold,
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
