"""Agreement between a run's proposals and the jury's labels, criterion by criterion.

Every metric is defined in ``evals/README.md``; in short:

- the scale's levels (``acquis`` > ``partiellement_acquis`` > ``non_acquis`` by default) are
  verdicts; ``preuves_insuffisantes``, ``a_examiner``, ``non_evaluable_ecrit`` and any result
  whose status is ``needs_review`` (shown here as ``a_revoir``) are abstentions of the machine;
- accuracy, Cohen's κ, quadratic-weighted κ, adjacent agreement and the confusion matrix are
  computed on the criteria where the jury *and* the machine gave a verdict, and ``coverage``
  says what share of the jury's verdicts that is;
- exact agreement is over every labelled criterion and every outcome code;
- evidence recall@k and citation precision compare verified citations with the gold evidence
  (same file, overlapping pages, overlapping quotes: :func:`citation_matches`).

κ, the confusion matrix and the kappa of the report come from scikit-learn. The weighted
sums of :func:`weighted_metrics` (numpy, fast enough to be recomputed thousands of times by
the bootstrap of :mod:`assessor.evaluation.compare`) are tested to give the same values.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from assessor.citations import matching_form
from assessor.errors import AssessorError
from assessor.evaluation.datasets import Dataset, DossierLabels, GoldEvidence
from assessor.evaluation.runs import Run, RunRecord, match
from assessor.referential import NON_VERDICT_LABELS
from assessor.results import EVIDENCE_TO_EXAMINE, Citation, CriterionResult, Report, Status
from assessor.wording import counted

if TYPE_CHECKING:  # NumPy and scikit-learn (SciPy, pandas) load when an evaluation is computed
    import numpy as np
    from numpy.typing import NDArray

DEFAULT_LEVELS = ("acquis", "partiellement_acquis", "non_acquis")
"""The default scale, best level first (as in a référentiel)."""
INSUFFICIENT = "preuves_insuffisantes"
NOT_ASSESSABLE = "non_evaluable_ecrit"
REVIEW = "a_revoir"
"""Pseudo outcome of a result whose status is ``needs_review``, whatever its outcome."""
ABSTENTIONS = (INSUFFICIENT, EVIDENCE_TO_EXAMINE, REVIEW, NOT_ASSESSABLE)
DEFAULT_K = 5
LENGTH_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (20, "1 à 20 pages"),
    (50, "21 à 50 pages"),
    (100, "51 à 100 pages"),
    (None, "plus de 100 pages"),
)
MIN_OVERLAP = 0.5
"""Two quotes overlap when their longest common stretch covers this share of the shorter one."""
_PAGE_RANGE = re.compile(r"pages?\s+(\d+)\s*[–-]\s*(\d+)")


# --- Matching citations with gold evidence ---------------------------------------------------


def quotes_overlap(a: str, b: str) -> bool:
    """True when the longest common stretch of the two quotes' matching forms, case folded, covers
    at least half of the shorter one (so containment always counts)."""
    fa, fb = matching_form(a).casefold(), matching_form(b).casefold()
    short, long = (fa, fb) if len(fa) <= len(fb) else (fb, fa)
    if not short:
        return False
    if short in long:
        return True
    common = SequenceMatcher(None, short, long, autojunk=False).find_longest_match(0, len(short), 0, len(long))
    return common.size >= MIN_OVERLAP * len(short)


def _same_file(a: str | None, b: str | None) -> bool:
    return a is None or b is None or PurePath(a).name == PurePath(b).name


def _gold_pages(gold: GoldEvidence) -> tuple[int, int] | None:
    if gold.page is None:
        return None
    return gold.page, max(gold.page, gold.page_end or gold.page)


def citation_pages(citation: Citation) -> tuple[int, int] | None:
    """First and last page of the cited passage (its locator says « pages 4–5 » when it spans two)."""
    if citation.page is None:
        return None
    found = _PAGE_RANGE.search(citation.locator)
    last = max(citation.page, int(found.group(2))) if found else citation.page
    return citation.page, last


def _pages_overlap(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def citation_matches(citation: Citation, gold: GoldEvidence) -> bool:
    """Same file (when both say), overlapping pages (when both say), overlapping quotes."""
    return (
        _same_file(citation.file, gold.file)
        and _pages_overlap(citation_pages(citation), _gold_pages(gold))
        and quotes_overlap(citation.quote, gold.quote)
    )


def passage_place(chunk_id: str, files_by_sha: dict[str, str]) -> tuple[str | None, int] | None:
    """File name and first page of a passage from its id (``<sha256[:12]>-p<page>-<offset>``)."""
    found = re.fullmatch(r"([0-9a-f]{12})-p(\d+)-\d+", chunk_id)
    if not found:
        return None
    return files_by_sha.get(found.group(1)), int(found.group(2))


# --- Per criterion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One labelled criterion and the machine's result for it, reduced to what the metrics need."""

    dossier: str
    criterion_id: str
    block: str
    pages: int
    gold: str
    machine: str
    gold_passages: int = 0
    found_at_k: int = 0
    """Gold passages matched by one of the first k verified citations."""
    retrieved_at_k: int = 0
    """Gold passages on the first page of one of the first k passages given to the assessor."""
    verified: int = 0
    """Verified citations (counted only for a criterion with gold evidence)."""
    precise: int = 0
    """Verified citations that match one of the criterion's gold passages."""


def machine_code(result: CriterionResult) -> str:
    return REVIEW if result.status is Status.NEEDS_REVIEW else result.outcome


def make_item(
    labels_key: str,
    criterion_gold: str,
    evidence: Sequence[GoldEvidence],
    result: CriterionResult,
    report: Report,
    k: int,
) -> Item:
    pages = sum(f.pages for f in report.dossier.files)
    verified = [c for c in result.citations if c.verified]
    files_by_sha = {f.sha256[:12]: f.name for f in report.dossier.files}
    places = [passage_place(cid, files_by_sha) for cid in result.evidence_ids[:k]]
    found = sum(1 for g in evidence if any(citation_matches(c, g) for c in verified[:k]))
    retrieved = sum(
        1
        for g in evidence
        if g.page is not None and any(p is not None and _same_file(p[0], g.file) and p[1] == g.page for p in places)
    )
    precise = sum(1 for c in verified if any(citation_matches(c, g) for g in evidence)) if evidence else 0
    return Item(
        dossier=labels_key,
        criterion_id=result.criterion_id,
        block=f"{report.referential.id}/{result.block}",
        pages=pages,
        gold=criterion_gold,
        machine=machine_code(result),
        gold_passages=len(evidence),
        found_at_k=found,
        retrieved_at_k=retrieved,
        verified=len(verified) if evidence else 0,
        precise=precise,
    )


# --- Metrics of a set of criteria ------------------------------------------------------------


class Metrics(BaseModel):
    """Agreement of a set of criteria; None where a metric is undefined (nothing to compute it on)."""

    criteria: int
    exact_agreement: float | None
    gold_verdicts: int
    paired: int
    coverage: float | None
    accuracy: float | None
    kappa: float | None
    weighted_kappa: float | None
    adjacent: float | None
    confusion: list[list[int]]
    assessable: int
    abstention_rate: float | None
    abstentions: dict[str, int]
    gold_insufficient: int
    insufficient_agreement: float | None
    with_evidence: int
    missed_evidence: float | None
    gold_not_assessable: int
    not_assessable_agreement: float | None
    verdicts_on_not_assessable: int
    gold_passages: int
    recall_at_k: float | None
    evidence_hit_at_k: float | None
    retrieval_recall_at_k: float | None
    verified_citations: int
    citation_precision: float | None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _kappa(y_true: list[str], y_pred: list[str], levels: Sequence[str], weights: str | None) -> float | None:
    import numpy as np
    from sklearn.metrics import cohen_kappa_score  # type: ignore[import-untyped]

    if not y_true:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a single class: κ is undefined, reported as None
        value = float(
            cohen_kappa_score(y_true, y_pred, labels=list(levels), weights=weights, replace_undefined_by=np.nan)
        )
    return None if math.isnan(value) else value


def compute(items: Sequence[Item], levels: Sequence[str] = DEFAULT_LEVELS) -> Metrics:
    """Every metric of ``items`` (see the module docstring and evals/README.md)."""
    from sklearn.metrics import confusion_matrix

    rank = {code: i for i, code in enumerate(levels)}
    gold_verdicts = [it for it in items if it.gold in rank]
    paired = [it for it in gold_verdicts if it.machine in rank]
    y_true = [it.gold for it in paired]
    y_pred = [it.machine for it in paired]
    matrix = (
        confusion_matrix(y_true, y_pred, labels=list(levels)).tolist()
        if paired
        else [[0] * len(levels) for _ in levels]
    )
    assessable = [it for it in items if it.gold != NOT_ASSESSABLE]
    abstained = [it for it in assessable if it.machine in ABSTENTIONS]
    gold_insufficient = [it for it in items if it.gold == INSUFFICIENT]
    with_evidence = [it for it in items if it.gold_passages]
    not_assessable = [it for it in items if it.gold == NOT_ASSESSABLE]
    gold_passages = sum(it.gold_passages for it in items)
    verified = sum(it.verified for it in items)
    return Metrics(
        criteria=len(items),
        exact_agreement=_ratio(sum(it.gold == it.machine for it in items), len(items)),
        gold_verdicts=len(gold_verdicts),
        paired=len(paired),
        coverage=_ratio(len(paired), len(gold_verdicts)),
        accuracy=_ratio(sum(a == b for a, b in zip(y_true, y_pred, strict=True)), len(paired)),
        kappa=_kappa(y_true, y_pred, levels, None),
        weighted_kappa=_kappa(y_true, y_pred, levels, "quadratic"),
        adjacent=_ratio(sum(abs(rank[a] - rank[b]) <= 1 for a, b in zip(y_true, y_pred, strict=True)), len(paired)),
        confusion=[[int(v) for v in row] for row in matrix],
        assessable=len(assessable),
        abstention_rate=_ratio(len(abstained), len(assessable)),
        abstentions=dict(Counter(it.machine for it in abstained).most_common()),
        gold_insufficient=len(gold_insufficient),
        insufficient_agreement=_ratio(
            sum(it.machine == INSUFFICIENT for it in gold_insufficient), len(gold_insufficient)
        ),
        with_evidence=len(with_evidence),
        missed_evidence=_ratio(sum(it.machine == INSUFFICIENT for it in with_evidence), len(with_evidence)),
        gold_not_assessable=len(not_assessable),
        not_assessable_agreement=_ratio(
            sum(it.machine == NOT_ASSESSABLE for it in not_assessable), len(not_assessable)
        ),
        verdicts_on_not_assessable=sum(it.machine in rank for it in not_assessable),
        gold_passages=gold_passages,
        recall_at_k=_ratio(sum(it.found_at_k for it in items), gold_passages),
        evidence_hit_at_k=_ratio(sum(it.found_at_k > 0 for it in with_evidence), len(with_evidence)),
        retrieval_recall_at_k=_ratio(sum(it.retrieved_at_k for it in items), gold_passages),
        verified_citations=verified,
        citation_precision=_ratio(sum(it.precise for it in items), verified),
    )


def kappa_from_matrix(matrix: NDArray[Any], weights: str | None = None) -> float | None:
    """Cohen's κ (unweighted or quadratic) of a confusion matrix whose rows and columns follow the
    scale's order; None when undefined. The same formula as scikit-learn's ``cohen_kappa_score``."""
    import numpy as np

    total = float(matrix.sum())
    if total == 0:
        return None
    size = matrix.shape[0]
    index = np.arange(size)
    if weights is None:
        w = 1.0 - np.eye(size)
    elif weights == "quadratic":
        w = (index[:, None] - index[None, :]).astype(float) ** 2
    else:
        raise ValueError(weights)
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / total
    denominator = float((w * expected).sum())
    if denominator == 0:
        return None
    return 1.0 - float((w * matrix).sum()) / denominator


@dataclass(frozen=True)
class ItemArrays:
    """Items as numpy columns, for metrics recomputed on many weightings (bootstrap)."""

    levels: int
    gold_level: NDArray[np.int64]  # index in the scale, -1 for a non-verdict
    machine_level: NDArray[np.int64]
    exact: NDArray[np.float64]
    assessable: NDArray[np.float64]
    abstained: NDArray[np.float64]
    with_evidence: NDArray[np.float64]
    said_insufficient: NDArray[np.float64]
    gold_passages: NDArray[np.float64]
    found_at_k: NDArray[np.float64]
    verified: NDArray[np.float64]
    precise: NDArray[np.float64]

    @classmethod
    def of(cls, items: Sequence[Item], levels: Sequence[str] = DEFAULT_LEVELS) -> ItemArrays:
        import numpy as np

        rank = {code: i for i, code in enumerate(levels)}

        def col(get: Callable[[Item], float]) -> NDArray[np.float64]:
            return np.array([get(it) for it in items], dtype=np.float64)

        return cls(
            levels=len(levels),
            gold_level=np.array([rank.get(it.gold, -1) for it in items], dtype=np.int64),
            machine_level=np.array([rank.get(it.machine, -1) for it in items], dtype=np.int64),
            exact=col(lambda it: it.gold == it.machine),
            assessable=col(lambda it: it.gold != NOT_ASSESSABLE),
            abstained=col(lambda it: it.gold != NOT_ASSESSABLE and it.machine in ABSTENTIONS),
            with_evidence=col(lambda it: it.gold_passages > 0),
            said_insufficient=col(lambda it: it.machine == INSUFFICIENT),
            gold_passages=col(lambda it: it.gold_passages),
            found_at_k=col(lambda it: it.found_at_k),
            verified=col(lambda it: it.verified),
            precise=col(lambda it: it.precise),
        )


COMPARED = (
    "exact_agreement",
    "coverage",
    "accuracy",
    "kappa",
    "weighted_kappa",
    "adjacent",
    "abstention_rate",
    "missed_evidence",
    "recall_at_k",
    "evidence_hit_at_k",
    "citation_precision",
)
"""The metrics that :func:`weighted_metrics` recomputes (and that two runs are compared on)."""

METRIC_LABELS = {
    "exact_agreement": "Accord exact (toutes issues)",
    "coverage": "Couverture des verdicts du jury",
    "accuracy": "Exactitude (verdicts appariés)",
    "kappa": "κ de Cohen",
    "weighted_kappa": "κ pondéré quadratique",
    "adjacent": "Accord adjacent",
    "abstention_rate": "Taux d'abstention",
    "missed_evidence": "Preuves manquées (« preuves insuffisantes » à tort)",
    "recall_at_k": "Rappel des preuves@k (citations)",
    "evidence_hit_at_k": "Critères dont une preuve est citée@k",
    "retrieval_recall_at_k": "Rappel des passages@k (par page)",
    "citation_precision": "Précision des citations",
    "insufficient_agreement": "« Preuves insuffisantes » reconnues",
    "not_assessable_agreement": "« Non évaluable à l'écrit » reconnus",
    "mean_cost_eur": "Coût moyen par dossier (€)",
    "mean_seconds": "Durée moyenne par dossier (s)",
}
"""French names of the metrics, for reports and tables."""


def weighted_metrics(a: ItemArrays, w: NDArray[np.float64]) -> dict[str, float | None]:
    """The metrics of :data:`COMPARED` with item ``i`` counted ``w[i]`` times."""
    import numpy as np

    def ratio(num: float, den: float) -> float | None:
        return num / den if den > 0 else None

    gold_verdict = a.gold_level >= 0
    paired = gold_verdict & (a.machine_level >= 0)
    wp = w[paired]
    size = a.levels
    matrix = np.bincount(
        a.gold_level[paired] * size + a.machine_level[paired], weights=wp, minlength=size * size
    ).reshape(size, size)
    n_paired = float(wp.sum())
    distance = np.abs(a.gold_level[paired] - a.machine_level[paired])
    return {
        "exact_agreement": ratio(float(w @ a.exact), float(w.sum())),
        "coverage": ratio(n_paired, float(w[gold_verdict].sum())),
        "accuracy": ratio(float(np.trace(matrix)), n_paired),
        "kappa": kappa_from_matrix(matrix),
        "weighted_kappa": kappa_from_matrix(matrix, "quadratic"),
        "adjacent": ratio(float(wp @ (distance <= 1)), n_paired),
        "abstention_rate": ratio(float(w @ a.abstained), float(w @ a.assessable)),
        "missed_evidence": ratio(float(w @ (a.with_evidence * a.said_insufficient)), float(w @ a.with_evidence)),
        "recall_at_k": ratio(float(w @ a.found_at_k), float(w @ a.gold_passages)),
        "evidence_hit_at_k": ratio(float(w @ (a.found_at_k > 0)), float(w @ a.with_evidence)),
        "citation_precision": ratio(float(w @ a.precise), float(w @ a.verified)),
    }


# --- A whole evaluation ----------------------------------------------------------------------


def length_bucket(pages: int) -> str:
    for limit, label in LENGTH_BUCKETS:
        if limit is None or pages <= limit:
            return label
    raise AssertionError("unreachable")


class DossierRow(BaseModel):
    dossier: str
    pages: int
    criteria: int
    exact_agreement: float | None
    coverage: float | None
    accuracy: float | None
    model_calls: int
    input_tokens: int
    output_tokens: int
    cost_eur: float
    seconds: float


class CriterionRow(BaseModel):
    criterion_id: str
    block: str
    dossiers: int
    exact_agreement: float | None
    gold: dict[str, int]
    machine: dict[str, int]


class Confusion(BaseModel):
    """Counts of (jury outcome, machine outcome) over every code, abstentions included."""

    rows: list[str]
    columns: list[str]
    counts: list[list[int]]


@dataclass
class Evaluation:
    """A run evaluated against a dataset."""

    run_name: str
    run_path: str
    model: str
    prompt_version: str | None
    evidence_only: bool
    dataset: str
    k: int
    levels: list[str]
    labels: dict[str, str]
    items: list[Item]
    overall: Metrics
    by_block: dict[str, Metrics]
    by_length: dict[str, Metrics]
    dossiers: list[DossierRow]
    criteria: list[CriterionRow]
    confusion: Confusion
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def mean_cost_eur(self) -> float | None:
        return _ratio(sum(d.cost_eur for d in self.dossiers), len(self.dossiers))

    @property
    def mean_seconds(self) -> float | None:
        return _ratio(sum(d.seconds for d in self.dossiers), len(self.dossiers))

    def label(self, code: str) -> str:
        return self.labels.get(code, code)

    def to_json(self) -> dict[str, Any]:
        """Everything but the items, for ``metrics.json``."""
        return {
            "run": {
                "name": self.run_name,
                "path": self.run_path,
                "model": self.model,
                "prompt_version": self.prompt_version,
                "evidence_only": self.evidence_only,
                "info": self.info,
            },
            "dataset": self.dataset,
            "k": self.k,
            "levels": self.levels,
            "overall": self.overall.model_dump(),
            "by_block": {k: v.model_dump() for k, v in self.by_block.items()},
            "by_length": {k: v.model_dump() for k, v in self.by_length.items()},
            "dossiers": [d.model_dump() for d in self.dossiers],
            "criteria": [c.model_dump() for c in self.criteria],
            "confusion": self.confusion.model_dump(),
            "mean_cost_eur": self.mean_cost_eur,
            "mean_seconds": self.mean_seconds,
            "warnings": self.warnings,
        }


class EvaluationError(AssessorError):
    """Nothing to evaluate; the message (French) says why."""

    code = "evaluation-impossible"


def scale_levels(reports: Iterable[Report]) -> list[str]:
    """The scale's levels, best first, from the reports' outcome labels (levels come first there)."""
    found: list[tuple[str, ...]] = []
    non_verdicts = {str(nv) for nv in NON_VERDICT_LABELS} | {EVIDENCE_TO_EXAMINE}
    for report in reports:
        levels = tuple(code for code in report.outcome_labels if code not in non_verdicts)
        if levels and levels not in found:
            found.append(levels)
    if len(found) > 1:
        raise EvaluationError(
            "les rapports n'utilisent pas tous la même échelle de verdicts : "
            + " ; ".join(", ".join(f) for f in found)
            + ". Évaluez séparément les référentiels aux échelles différentes."
        )
    return list(found[0]) if found else list(DEFAULT_LEVELS)


def _by(items: Sequence[Item], key: Callable[[Item], str], levels: Sequence[str]) -> dict[str, Metrics]:
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(key(it), []).append(it)
    return {name: compute(group, levels) for name, group in groups.items()}


def _ordered_codes(codes: Iterable[str], levels: Sequence[str]) -> list[str]:
    """The scale's levels and the two non-verdicts always (so that agreement is the diagonal), then
    the machine-only codes that occur."""
    always = [*levels, INSUFFICIENT, NOT_ASSESSABLE]
    present = set(codes)
    return (
        always
        + [c for c in (EVIDENCE_TO_EXAMINE, REVIEW) if c in present]
        + sorted(present - {*always, EVIDENCE_TO_EXAMINE, REVIEW})
    )


def _dossier_row(labels: DossierLabels, record: RunRecord, items: list[Item], levels: Sequence[str]) -> DossierRow:
    metrics = compute(items, levels)
    usage = record.report.usage
    return DossierRow(
        dossier=labels.dossier,
        pages=sum(f.pages for f in record.report.dossier.files),
        criteria=len(items),
        exact_agreement=metrics.exact_agreement,
        coverage=metrics.coverage,
        accuracy=metrics.accuracy,
        model_calls=usage.model_calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_eur=usage.cost_eur,
        seconds=record.latency_s,
    )


def evaluate(run: Run, dataset: Dataset, *, k: int = DEFAULT_K) -> Evaluation:
    """Match the run with the dataset and compute every metric, overall and broken down."""
    matching = match(run, dataset)
    if not matching.pairs:
        keys = ", ".join(r.dossier_key for r in run.records[:5])
        raise EvaluationError(
            f"aucun rapport du run « {run.name} » ne correspond à un dossier étiqueté de « {dataset.name} » "
            f"(dossiers du run : {keys}). Voir evals/README.md, « Correspondance »."
        )
    levels = scale_levels(r.report for _, r in matching.pairs)
    warnings_: list[str] = []
    if matching.unlabelled:
        warnings_.append(
            f"{counted(len(matching.unlabelled), 'dossier')} du run sans étiquettes : {', '.join(matching.unlabelled)}."
        )
    if matching.unassessed:
        warnings_.append(
            f"{counted(len(matching.unassessed), 'dossier étiqueté absent')} du run : {', '.join(matching.unassessed)}."
        )
    counts = run.info.get("counts")
    failed = counts.get("failed") if isinstance(counts, dict) else None
    if isinstance(failed, int) and failed:
        warnings_.append(
            f"{counted(failed, 'dossier')} en échec dans le run, {'absent' if failed < 2 else 'absents'} de "
            "results.jsonl et donc de cette évaluation "
            "(voir run.sqlite) : les indicateurs ne portent que sur les dossiers réussis."
        )
    known = {*levels, INSUFFICIENT, NOT_ASSESSABLE}
    items: list[Item] = []
    rows: list[DossierRow] = []
    labels_text: dict[str, str] = {}
    absent = 0
    unknown: Counter[str] = Counter()
    for labels, record in matching.pairs:
        report = record.report
        labels_text.update(report.outcome_labels)
        results = {r.criterion_id: r for r in report.criteria}
        dossier_items = []
        for label in labels.criteria:
            result = results.get(label.criterion_id)
            if result is None:
                absent += 1
                continue
            if label.outcome not in known:
                unknown[label.outcome] += 1
                continue
            dossier_items.append(make_item(labels.dossier, label.outcome, label.evidence, result, report, k))
        items += dossier_items
        rows.append(_dossier_row(labels, record, dossier_items, levels))
    if absent:
        warnings_.append(
            f"{counted(absent, 'critère étiqueté')} {'absent' if absent < 2 else 'absents'} des rapports "
            f"(bloc non évalué ?), {'ignoré' if absent < 2 else 'ignorés'}."
        )
    if unknown:
        warnings_.append(
            (
                "résultat du jury hors de l'échelle, ignoré : "
                if sum(unknown.values()) < 2
                else "résultats du jury hors de l'échelle, ignorés : "
            )
            + ", ".join(f"{code} ({n})" for code, n in unknown.most_common())
            + "."
        )
    if not items:
        raise EvaluationError("aucun critère étiqueté n'a de résultat dans les rapports du run.")
    labels_text[REVIEW] = "À revoir"
    confusion_rows = _ordered_codes((it.gold for it in items), levels)
    confusion_cols = _ordered_codes((it.machine for it in items), levels)
    pair_counts = Counter((it.gold, it.machine) for it in items)
    criteria_rows = []
    for criterion_id in dict.fromkeys(it.criterion_id for it in items):
        group = [it for it in items if it.criterion_id == criterion_id]
        criteria_rows.append(
            CriterionRow(
                criterion_id=criterion_id,
                block=group[0].block,
                dossiers=len(group),
                exact_agreement=_ratio(sum(it.gold == it.machine for it in group), len(group)),
                gold=dict(Counter(it.gold for it in group)),
                machine=dict(Counter(it.machine for it in group)),
            )
        )
    by_length = _by(items, lambda it: length_bucket(it.pages), levels)
    return Evaluation(
        run_name=run.name,
        run_path=str(run.path),
        model=run.model,
        prompt_version=run.prompt_version,
        evidence_only=run.evidence_only,
        dataset=dataset.name,
        k=k,
        levels=levels,
        labels=labels_text,
        items=items,
        overall=compute(items, levels),
        by_block=_by(items, lambda it: it.block, levels),
        by_length={label: by_length[label] for _, label in LENGTH_BUCKETS if label in by_length},
        dossiers=rows,
        criteria=criteria_rows,
        confusion=Confusion(
            rows=confusion_rows,
            columns=confusion_cols,
            counts=[[pair_counts[(g, m)] for m in confusion_cols] for g in confusion_rows],
        ),
        info=run.info,
        warnings=warnings_,
    )
