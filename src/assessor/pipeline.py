"""``assess_dossier``: the whole flow, in order.

dossier (ingested) -> référentiel blocks -> for each criterion: retrieve evidence ->
assess (evidence-only for now) -> verified result -> report with dossier-level flags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from assessor import evidence_only
from assessor.dossiers import DossierStore
from assessor.injection import suspected_injections
from assessor.referential import Referential
from assessor.results import (
    CriterionResult,
    DossierFileRef,
    DossierRef,
    Flag,
    Mode,
    ReferentialRef,
    Report,
    Status,
)

CriterionProgress = Callable[[int, int, str], None]
"""progress(done, total, criterion_id), called after each criterion."""

EVIDENCE_ONLY_NOTICE = (
    "Pré-lecture automatique par repérage de passages, sans modèle de langage : aucun critère n'est jugé. "
    "« À examiner » signale des passages à lire, « preuves insuffisantes » l'absence de passage pertinent, "
    "« non évaluable sur pièces écrites » une modalité orale. Le jury décide de chaque critère."
)


def assess_dossier(
    store: DossierStore,
    dossier_id: str,
    referential: Referential,
    *,
    blocks: Sequence[str] = (),
    mode: Mode = Mode.JURY,
    progress: CriterionProgress | None = None,
) -> Report:
    """Pre-assess every criterion of the chosen blocks (all blocks when none is given)."""
    started = time.perf_counter()
    dossier = store.get(dossier_id)
    retriever = store.retriever(dossier_id)
    chosen = [referential.block(code) for code in blocks] if blocks else list(referential.blocks)
    criteria = [c for block in chosen for c in referential.criteria_of(block.code)]
    retrieval_ready = time.perf_counter()
    flags = suspected_injections(retriever.chunks)
    injected_pages = {(f.file, f.page) for f in flags}
    results: list[CriterionResult] = []
    for done, criterion in enumerate(criteria, start=1):
        siblings = referential.criteria_of(criterion.block)
        result = evidence_only.assess(
            criterion, retriever, siblings=siblings, mode=mode, settings=store.settings.evidence_only
        )
        if any((c.file, c.page) in injected_pages for c in result.citations):
            result = result.model_copy(
                update={
                    "flags": [*result.flags, Flag.SUSPECTED_INJECTION],
                    "status": Status.NEEDS_REVIEW,
                }
            )
        results.append(result)
        if progress:
            progress(done, len(criteria), criterion.id)
    finished = time.perf_counter()
    return Report(
        dossier=DossierRef(
            id=dossier.id,
            files=[DossierFileRef(name=f.name, sha256=f.sha256, pages=f.pages) for f in dossier.files],
        ),
        referential=ReferentialRef(
            id=referential.id,
            version=referential.version,
            title=referential.title,
            blocks=[b.code for b in chosen],
        ),
        mode=mode,
        model=evidence_only.MODEL_NAME,
        evidence_only=True,
        prompt_version=None,
        created_at=datetime.now(UTC),
        outcome_labels={**referential.scale.outcome_labels(), "a_examiner": "À examiner"},
        criteria=results,
        flags=flags,
        timings={
            "retrieval_setup_s": round(retrieval_ready - started, 3),
            "assessment_s": round(finished - retrieval_ready, 3),
            "total_s": round(finished - started, 3),
        },
        notice=EVIDENCE_ONLY_NOTICE,
    )
