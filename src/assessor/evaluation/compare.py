"""Two runs on the same labelled criteria: the differences, with bootstrap confidence intervals.

The comparison is paired: only the criteria that both runs assessed and that have a label
count, and each resample draws the same criteria (or dossiers) for both runs. The interval
is the 2.5th–97.5th percentile of the differences (B − A) over ``resamples`` draws with a
fixed seed, so the same inputs always give the same interval.

Two resampling units:

- ``criterion`` (default): criteria are drawn with replacement. Criteria of one dossier are
  not independent (same candidate, same writing), so the interval is too narrow when they
  are correlated;
- ``dossier``: dossiers are drawn with replacement, all their criteria with them. Honest
  about that correlation, but coarse with few dossiers (four samples give few distinct draws).

Cost and duration per dossier are always resampled by dossier.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel

from assessor.evaluation.metrics import (
    COMPARED,
    METRIC_LABELS,
    Evaluation,
    EvaluationError,
    ItemArrays,
    weighted_metrics,
)

if TYPE_CHECKING:  # NumPy loads when a comparison is computed, not when the command line starts
    import numpy as np
    from numpy.typing import NDArray

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20260101
MIN_VALID_SHARE = 0.5
"""An interval is given only when the difference is defined in at least this share of the resamples."""


class BootstrapUnit(StrEnum):
    CRITERION = "critere"
    DOSSIER = "dossier"


class ComparisonRow(BaseModel):
    metric: str
    label: str
    a: float | None
    b: float | None
    difference: float | None
    low: float | None
    high: float | None
    valid: int
    """Resamples in which the difference was defined."""

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


class Comparison(BaseModel):
    a: str
    b: str
    unit: BootstrapUnit
    resamples: int
    seed: int
    criteria: int
    dossiers: int
    only_a: int
    only_b: int
    rows: list[ComparisonRow]


def _interval(diffs: list[float], resamples: int) -> tuple[float | None, float | None]:
    if not diffs or len(diffs) < MIN_VALID_SHARE * resamples:
        return None, None
    import numpy as np

    low, high = np.percentile(np.array(diffs), [2.5, 97.5])
    return float(low), float(high)


def _minus(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare(
    a: Evaluation,
    b: Evaluation,
    *,
    unit: BootstrapUnit = BootstrapUnit.CRITERION,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Paired comparison of run B against run A on their common labelled criteria."""
    import numpy as np

    items_a = {(it.dossier, it.criterion_id): it for it in a.items}
    items_b = {(it.dossier, it.criterion_id): it for it in b.items}
    common = [key for key in items_a if key in items_b]
    if not common:
        raise EvaluationError(f"les runs « {a.run_name} » et « {b.run_name} » n'ont aucun critère étiqueté en commun.")
    differing = [key for key in common if items_a[key].gold != items_b[key].gold]
    if differing:
        dossier, criterion = differing[0]
        raise EvaluationError(
            f"les deux évaluations n'ont pas les mêmes étiquettes ({dossier}, {criterion}) : "
            "comparez deux runs avec le même jeu d'évaluation."
        )
    if a.levels != b.levels:
        raise EvaluationError("les deux runs n'utilisent pas la même échelle de verdicts.")
    arrays_a = ItemArrays.of([items_a[key] for key in common], a.levels)
    arrays_b = ItemArrays.of([items_b[key] for key in common], a.levels)
    dossiers = list(dict.fromkeys(d for d, _ in common))
    cluster = np.array([dossiers.index(d) for d, _ in common], dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = len(common)

    def draw() -> NDArray[np.float64]:
        if unit is BootstrapUnit.CRITERION:
            return np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        counts = np.bincount(rng.integers(0, len(dossiers), len(dossiers)), minlength=len(dossiers))
        return counts[cluster].astype(np.float64)

    point_a = weighted_metrics(arrays_a, np.ones(n))
    point_b = weighted_metrics(arrays_b, np.ones(n))
    diffs: dict[str, list[float]] = {name: [] for name in COMPARED}
    for _ in range(resamples):
        w = draw()
        ma, mb = weighted_metrics(arrays_a, w), weighted_metrics(arrays_b, w)
        for name in COMPARED:
            d = _minus(mb[name], ma[name])
            if d is not None:
                diffs[name].append(d)
    rows = []
    for name in COMPARED:
        low, high = _interval(diffs[name], resamples)
        rows.append(
            ComparisonRow(
                metric=name,
                label=METRIC_LABELS[name].replace("@k", f"@{a.k}"),
                a=point_a[name],
                b=point_b[name],
                difference=_minus(point_b[name], point_a[name]),
                low=low,
                high=high,
                valid=len(diffs[name]),
            )
        )
    rows += _per_dossier_rows(a, b, rng, resamples)
    return Comparison(
        a=a.run_name,
        b=b.run_name,
        unit=unit,
        resamples=resamples,
        seed=seed,
        criteria=n,
        dossiers=len(dossiers),
        only_a=len(items_a) - n,
        only_b=len(items_b) - n,
        rows=rows,
    )


def _per_dossier_rows(a: Evaluation, b: Evaluation, rng: np.random.Generator, resamples: int) -> list[ComparisonRow]:
    """Mean cost and duration per dossier, on the dossiers both runs assessed, resampled by dossier."""
    import numpy as np

    rows_a = {d.dossier: d for d in a.dossiers}
    rows_b = {d.dossier: d for d in b.dossiers}
    common = [d for d in rows_a if d in rows_b]
    out = []
    measures: tuple[tuple[str, Callable[..., float]], ...] = (
        ("mean_cost_eur", lambda row: row.cost_eur),
        ("mean_seconds", lambda row: row.seconds),
    )
    for name, get in measures:
        va = np.array([get(rows_a[d]) for d in common], dtype=np.float64)
        vb = np.array([get(rows_b[d]) for d in common], dtype=np.float64)
        if not common:
            empty = ComparisonRow(
                metric=name, label=METRIC_LABELS[name], a=None, b=None, difference=None, low=None, high=None, valid=0
            )
            out.append(empty)
            continue
        diffs = []
        for _ in range(resamples):
            idx = rng.integers(0, len(common), len(common))
            diffs.append(float(vb[idx].mean() - va[idx].mean()))
        low, high = _interval(diffs, resamples)
        out.append(
            ComparisonRow(
                metric=name,
                label=METRIC_LABELS[name],
                a=float(va.mean()),
                b=float(vb.mean()),
                difference=float(vb.mean() - va.mean()),
                low=low,
                high=high,
                valid=len(diffs),
            )
        )
    return out
