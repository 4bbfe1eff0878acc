"""``assess_dossier``: the whole flow, in order.

1. the dossier's passages, and text that tries to instruct the tool (flagged);
2. for each criterion of the chosen blocks, one retrieval, whose passages give both the
   evidence-only result (the embedded default and the fallback) and the model's evidence
   (within a budget); and how much of the chosen blocks the dossier addresses
   (``dossier_hors_referentiel`` below ``fit_threshold``);
3. with a language model: oral and role-play criteria, and criteria for which no passage was
   found, are never sent to it; the others are assessed concurrently (bounded, rate-limited),
   each answer verified (``assessment``), cached on (prompt version, model, settings,
   criterion, evidence);
4. the report, with usage, cost and timings.

Secrets (the chat model's key, the environment's keys and passwords) are masked in every model
answer as it arrives, again in what the cache writes, and in the report returned
(``assessor.redaction``).

A batch run (``assessor.batch``) assesses many dossiers at once: it passes one ``executor``
and one ``limiter`` to every call, so that the bound on concurrent model calls and the rate
limit hold across dossiers. The model is reached through one seam, ``ModelCalls``: live calls
(``LiveCalls``), or the OpenAI Batch API's, which name each request by its criterion
(``batch.openai_batch.ReplayCalls``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from langchain_core.language_models.chat_models import BaseChatModel

from assessor import evidence_only
from assessor.assessment import assess_with_model
from assessor.atomic import write_atomic
from assessor.chunking import Chunk
from assessor.dossiers import Dossier, DossierStore
from assessor.injection import injections_of, suspected_injections
from assessor.llm import ModelSpec, make_chat_model
from assessor.logs import pseudonym
from assessor.prompts import PromptLibrary
from assessor.pseudonymise import Pseudonymiser
from assessor.redaction import redact_model, secrets_of
from assessor.referential import Block, Criterion, Referential
from assessor.results import (
    ContractError,
    CriterionResult,
    DossierFileRef,
    DossierFlag,
    DossierRef,
    Flag,
    Mode,
    ReferentialFit,
    ReferentialRef,
    Report,
    Status,
    Usage,
    dump_criterion_result,
    read_criterion_result,
)
from assessor.retrieval import Passage, Retriever
from assessor.settings import BASELINE, LLMSettings

CriterionProgress = Callable[[int, int, str], None]
"""progress(done, total, criterion_id), called after each criterion."""

EVIDENCE_ONLY_NOTICE = (
    "Pré-lecture automatique par repérage de passages, sans modèle de langage : aucun critère n'est jugé. "
    "« À examiner » signale des passages à lire (« signal faible » quand ils contiennent trop peu des termes du "
    "critère pour trancher), « preuves insuffisantes » l'absence de passage pertinent, "
    "« non évaluable sur pièces écrites » une modalité orale. Le jury décide de chaque critère."
)
MODEL_NOTICE = (
    "Propositions d'un modèle de langage ({model}), à accepter ou corriger par le jury, qui décide seul. "
    "Chaque citation a été recherchée dans le dossier : « vérifiée » signifie qu'elle y figure mot pour mot. "
    "Un verdict positif sans citation vérifiée est ramené à « preuves insuffisantes »."
)

log = logging.getLogger(__name__)


class RateLimiter:
    """At most ``per_minute`` calls a minute, shared by the worker threads."""

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        time.sleep(max(0.0, start - now))


def budgeted(passages: Sequence[Chunk], budget_chars: int) -> list[Chunk]:
    """Passages in rank order while their text fits the budget (at least one)."""
    chosen: list[Chunk] = []
    used = 0
    for chunk in passages:
        if chosen and used + len(chunk.text) > budget_chars:
            break
        chosen.append(chunk)
        used += len(chunk.text)
    return chosen


def _cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ResultCache:
    """Model results on disk, so that re-running an unchanged assessment costs nothing.

    What it writes is masked (``assessor.redaction``): ``secrets`` and the environment's."""

    def __init__(self, folder: Path, secrets: Sequence[str] = ()) -> None:
        self.folder = folder
        self.secrets = tuple(secrets)

    def get(self, key: str) -> CriterionResult | None:
        """The kept result (migrated from an older contract if need be), or None: a result kept by a
        newer Assessor, or damaged, is not used (the criterion is assessed again, and kept anew)."""
        path = self.folder / f"{key}.json"
        if not path.exists():
            return None
        try:
            result = read_criterion_result(path.read_bytes())
        except ContractError as exc:
            log.warning("cached result not used", extra={"reason": str(exc)[:200]})
            return None
        return result.model_copy(update={"cached": True})

    def put(self, key: str, result: CriterionResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.folder / f"{key}.json", dump_criterion_result(redact_model(result, self.secrets)))


class ModelCalls(Protocol):
    """The model-call seam of ``assess_dossier``: which chat model answers a criterion, and whether
    the criterion's result is final (cached, reported).

    ``LiveCalls`` answers every call at once. The OpenAI Batch API's calls
    (``batch.openai_batch.ReplayCalls``) answer from a batch's outputs and record the calls still
    to send; the criteria waiting for an answer are not final, and the dossier stays pending.
    """

    @property
    def spec(self) -> ModelSpec: ...

    def model_for(self, criterion_id: str) -> BaseChatModel: ...

    def final(self, criterion_id: str) -> bool: ...

    def secrets(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class LiveCalls:
    """One chat model answers every criterion, now."""

    chat: BaseChatModel
    spec: ModelSpec

    def model_for(self, criterion_id: str) -> BaseChatModel:
        return self.chat

    def final(self, criterion_id: str) -> bool:
        return True

    def secrets(self) -> frozenset[str]:
        return secrets_of(self.chat)


@dataclass
class Evidence:
    """Steps 1 and 2: the dossier, the chosen criteria, and what one retrieval per criterion gives."""

    dossier: Dossier
    blocks: list[Block]
    criteria: list[Criterion]
    flags: list[DossierFlag]  # text that tries to instruct the tool
    fallbacks: dict[str, CriterionResult]  # the evidence-only result of each criterion
    passages: dict[str, list[Chunk]]  # the model's evidence, within the budget
    fit: ReferentialFit | None


def assess_dossier(
    store: DossierStore,
    dossier_id: str,
    referential: Referential,
    *,
    blocks: Sequence[str] = (),
    mode: Mode = Mode.JURY,
    llm: LLMSettings | None = None,
    chat_model: tuple[BaseChatModel, ModelSpec] | ModelCalls | None = None,
    prompts: PromptLibrary | None = None,
    progress: CriterionProgress | None = None,
    executor: Executor | None = None,
    limiter: RateLimiter | None = None,
    cache: ResultCache | None = None,
) -> Report:
    """Pre-assess every criterion of the chosen blocks (all blocks when none is given).

    ``chat_model`` injects a model (tests) or the model-call seam (``ModelCalls``: batch runs);
    otherwise ``llm.model`` names one, and ``baseline`` (the default) means the evidence-only
    assessor alone. ``executor`` runs the criteria instead of a pool of ``llm.concurrency``
    threads of this call's own, and ``limiter`` replaces this call's own rate limiter: a batch
    shares both between dossiers. ``cache`` replaces the result cache of the data folder.
    """
    started = time.perf_counter()
    llm = llm or LLMSettings()
    calls = _model_calls(chat_model, llm)
    prompts = prompts or (PromptLibrary() if calls else None)
    evidence = gather_evidence(store, dossier_id, referential, blocks, mode=mode, llm=llm)
    ready = time.perf_counter()
    injected: list[DossierFlag] = []
    if calls is None:
        results = _evidence_only(evidence, progress)
    else:
        assert prompts is not None
        results, injected = _assess_with(
            calls,
            evidence,
            referential,
            mode=mode,
            llm=llm,
            prompts=prompts,
            progress=progress,
            executor=executor,
            limiter=limiter or RateLimiter(llm.requests_per_minute),
            cache=cache or ResultCache(store.settings.data_dir / "cache" / "assessments", sorted(calls.secrets())),
        )
    criteria, flags = _flagged(evidence, results, injected, with_model=calls is not None)
    report = _report(
        evidence,
        referential,
        criteria,
        flags,
        mode=mode,
        llm=llm,
        calls=calls,
        prompts=prompts,
        timings=(started, ready, time.perf_counter()),
    )
    log.info(
        "assessment done",
        extra={
            "dossier": pseudonym(evidence.dossier.id),
            "referential": referential.id,
            "criteria": len(criteria),
            "model": report.model,
            "model_calls": report.usage.model_calls,
            "cached": sum(r.cached for r in criteria),
            "failed": sum(Flag.MODEL_ERROR in r.flags for r in criteria),
            "seconds": report.timings["total_s"],
        },
    )
    # Also masks results cached before masking existed, and anything a chat model passed through.
    return redact_model(report, calls.secrets() if calls else ())


def _model_calls(
    chat_model: tuple[BaseChatModel, ModelSpec] | ModelCalls | None, llm: LLMSettings
) -> ModelCalls | None:
    """The model-call seam for this run: the one given, the model given, the model named, or none."""
    if isinstance(chat_model, tuple):
        return LiveCalls(*chat_model)
    if chat_model is not None:
        return chat_model
    if llm.model == BASELINE:
        return None
    return LiveCalls(*make_chat_model(llm))


def gather_evidence(
    store: DossierStore,
    dossier_id: str,
    referential: Referential,
    blocks: Sequence[str],
    *,
    mode: Mode,
    llm: LLMSettings,
) -> Evidence:
    """Load the dossier, retrieve each criterion's passages once, and read them with the evidence-only
    assessor: its result is the embedded default and every model result's fallback and baseline."""
    dossier = store.get(dossier_id)
    retriever = store.retriever(dossier_id)
    chosen = [referential.block(code) for code in blocks] if blocks else list(referential.blocks)
    criteria = [c for block in chosen for c in referential.criteria_of(block.code)]
    found = {c.id: _retrieve(c, retriever, referential, llm) for c in criteria}  # once per criterion
    settings = store.settings.evidence_only
    fallbacks = {c.id: evidence_only.assess(c, found[c.id], mode=mode, settings=settings) for c in criteria}
    return Evidence(
        dossier=dossier,
        blocks=chosen,
        criteria=criteria,
        flags=suspected_injections(retriever.chunks),
        fallbacks=fallbacks,
        passages={
            cid: budgeted([p.chunk for p in passages], llm.evidence_budget_chars) for cid, passages in found.items()
        },
        fit=evidence_only.referential_fit(fallbacks, criteria, settings),  # from the results: no second scoring
    )


def _evidence_only(evidence: Evidence, progress: CriterionProgress | None) -> dict[str, CriterionResult]:
    for done, criterion in enumerate(evidence.criteria, start=1):
        if progress:
            progress(done, len(evidence.criteria), criterion.id)
    return dict(evidence.fallbacks)


def _assess_with(
    calls: ModelCalls,
    evidence: Evidence,
    referential: Referential,
    *,
    mode: Mode,
    llm: LLMSettings,
    prompts: PromptLibrary,
    progress: CriterionProgress | None,
    executor: Executor | None,
    limiter: RateLimiter,
    cache: ResultCache,
) -> tuple[dict[str, CriterionResult], list[DossierFlag]]:
    """Step 3: each criterion that can be read in writing and has passages goes to the model
    (concurrently, rate-limited, answers verified, results cached); the others keep their
    evidence-only result. Returns the results and the injections the model's answers revealed."""
    secrets = sorted(calls.secrets())
    results: dict[str, CriterionResult] = {}
    reported: list[DossierFlag] = []
    lock = threading.Lock()
    pseudonymiser = Pseudonymiser() if llm.pseudonymise and calls.spec.remote else None
    passages = evidence.passages
    if pseudonymiser:  # before the threads: the pseudonymiser's mapping grows as it reads
        passages = {
            cid: [c.model_copy(update={"text": pseudonymiser.pseudonymise(c.text)}) for c in chunks]
            for cid, chunks in passages.items()
        }

    def finish(criterion: Criterion, result: CriterionResult) -> None:
        with lock:
            results[criterion.id] = result
            if progress:
                progress(len(results), len(evidence.criteria), criterion.id)

    def assess_one(criterion: Criterion) -> None:
        fallback = evidence.fallbacks[criterion.id]
        chunks = passages[criterion.id]
        if (not criterion.written_assessable and not llm.assess_oral) or not chunks:
            finish(criterion, fallback)  # never sent: oral, or nothing to cite (« preuves insuffisantes »)
            return
        key = _cache_key(
            prompts.version,
            calls.spec.id,
            llm.temperature,
            llm.max_output_tokens,
            llm.max_attempts,
            mode,
            criterion.id,
            criterion.text,
            [(c.id, c.text) for c in chunks],
            pseudonymiser is not None,
        )
        cached = cache.get(key)
        if cached is not None:
            finish(criterion, cached)
            return
        limiter.wait()
        result, injected = assess_with_model(
            criterion,
            chunks,
            model=calls.model_for(criterion.id),
            model_id=calls.spec.id,
            prompts=prompts,
            scale_levels=referential.scale.levels,
            referential_title=referential.title,
            mode=mode,
            fallback=fallback,
            max_attempts=llm.max_attempts,
            secrets=secrets,
            prices=(llm.price_input_per_mtok, llm.price_output_per_mtok),
            provider=calls.spec.provider,
        )
        if pseudonymiser:
            result = _restored(result, pseudonymiser)
            injected = [f.model_copy(update={"excerpt": pseudonymiser.restore(f.excerpt)}) for f in injected]
        with lock:
            reported.extend(injected)
        if Flag.MODEL_ERROR not in result.flags and calls.final(criterion.id):
            cache.put(key, result)
        finish(criterion, result)

    if executor is not None:
        list(executor.map(assess_one, evidence.criteria))
    else:
        with ThreadPoolExecutor(max_workers=llm.concurrency, thread_name_prefix="assessor-llm") as pool:
            list(pool.map(assess_one, evidence.criteria))
    return results, reported


def _flagged(
    evidence: Evidence, results: dict[str, CriterionResult], injected: list[DossierFlag], *, with_model: bool
) -> tuple[list[CriterionResult], list[DossierFlag]]:
    """The results in the référentiel's order: a criterion whose passages hold an injection is marked
    for review, and each model result carries the evidence-only baseline beside it."""
    flags = list(evidence.flags)
    known = {(f.file, f.page, f.excerpt) for f in flags}
    flags += [f for f in injected if (f.file, f.page, f.excerpt) not in known]
    ordered = []
    for criterion in evidence.criteria:
        result = results[criterion.id]
        if injections_of(result, flags) and Flag.SUSPECTED_INJECTION not in result.flags:
            result = result.model_copy(
                update={"flags": [*result.flags, Flag.SUSPECTED_INJECTION], "status": Status.NEEDS_REVIEW}
            )
        if with_model:  # every model proposal sits next to the evidence-only baseline
            result = result.model_copy(update={"baseline_outcome": evidence.fallbacks[criterion.id].outcome})
        ordered.append(result)
    return ordered, flags


def _report(
    evidence: Evidence,
    referential: Referential,
    criteria: list[CriterionResult],
    flags: list[DossierFlag],
    *,
    mode: Mode,
    llm: LLMSettings,
    calls: ModelCalls | None,
    prompts: PromptLibrary | None,
    timings: tuple[float, float, float],
) -> Report:
    """Step 4: the report, with usage, cost and timings."""
    started, ready, finished = timings
    model_id = calls.spec.id if calls else evidence_only.MODEL_NAME
    return Report(
        dossier=DossierRef(
            id=evidence.dossier.id,
            files=[DossierFileRef(name=f.name, sha256=f.sha256, pages=f.pages) for f in evidence.dossier.files],
        ),
        referential=ReferentialRef(
            id=referential.id,
            version=referential.version,
            title=referential.title,
            blocks=[b.code for b in evidence.blocks],
        ),
        mode=mode,
        model=model_id,
        evidence_only=calls is None,
        pseudonymised=bool(calls and llm.pseudonymise and calls.spec.remote),
        prompt_version=prompts.version if prompts else None,
        created_at=datetime.now(UTC),
        outcome_labels=_labels(referential, mode),
        criteria=criteria,
        flags=flags,
        fit=evidence.fit,
        usage=Usage(
            input_tokens=sum(r.input_tokens for r in criteria),
            output_tokens=sum(r.output_tokens for r in criteria),
            cost_eur=round(sum(r.cost_eur for r in criteria), 6),
            model_calls=sum(r.attempts for r in criteria if not r.cached),
        ),
        timings={
            "retrieval_s": round(ready - started, 3),
            "assessment_s": round(finished - ready, 3),
            "total_s": round(finished - started, 3),
        },
        notice=EVIDENCE_ONLY_NOTICE if calls is None else MODEL_NOTICE.format(model=model_id),
    )


CANDIDATE_LABELS = {
    "non_acquis": "À compléter",
    "preuves_insuffisantes": "Non traité dans le dossier",
    "non_evaluable_ecrit": "Vérifié à l'oral",
    "a_examiner": "Passages repérés",
}


def _labels(referential: Referential, mode: Mode) -> dict[str, str]:
    """Outcome labels; in candidate mode, coverage words instead of grades (self-check, not a verdict)."""
    labels = {**referential.scale.outcome_labels(), "a_examiner": "À examiner"}
    if mode is Mode.CANDIDATE:
        labels = {
            code: "Traité dans le dossier" if level.positive else CANDIDATE_LABELS.get(code, "À compléter")
            for code, level in ((lv.code, lv) for lv in referential.scale.levels)
        }
        labels.update({k: v for k, v in CANDIDATE_LABELS.items() if k != "non_acquis"})
    return labels


def _restored(result: CriterionResult, pseudonymiser: Pseudonymiser) -> CriterionResult:
    """The model's text with the personal data put back (the raw outputs stay as the model wrote them)."""
    restore = pseudonymiser.restore
    return result.model_copy(
        update={
            "rationale": restore(result.rationale),
            "missing": [restore(m) for m in result.missing],
            "feedback": restore(result.feedback),
            "citations": [c.model_copy(update={"quote": restore(c.quote)}) for c in result.citations],
        }
    )


def _retrieve(criterion: Criterion, retriever: Retriever, referential: Referential, llm: LLMSettings) -> list[Passage]:
    """The criterion's passages, shared by the evidence-only result and the model's evidence."""
    if not criterion.written_assessable and not llm.assess_oral:
        return []
    return retriever.search_criterion(criterion, siblings=referential.criteria_of(criterion.block))
