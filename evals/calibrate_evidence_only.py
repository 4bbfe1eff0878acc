"""Calibrate the evidence-only assessor out of sample, on the labelled dossiers (real and sample).

    python evals/calibrate_evidence_only.py

Each criterion assessable in writing of a labelled dossier (``evals/retrieval_labels.py``) has a
label, evidence present or absent, and a score: the best share of its topic terms found in one
of the passages the pipeline retrieves for it (``evidence_only.evidence_score``). The rule has two
thresholds: below ``threshold`` the result is « preuves insuffisantes »; at or above
``confident`` it is « à examiner »; in between the signal is too weak to say, and the result is
« à examiner » with the ``signal_faible`` flag, which tells the jury so.

**Fitting.** Among thresholds to the hundredth, the pair that maximises the balanced accuracy on
the criteria it decides, deciding at least ``MIN_DECIDED`` of them (ties: more decided, then
the lower thresholds). Balanced accuracy = (share of present criteria shown « à examiner » +
share of absent criteria told « preuves insuffisantes ») / 2.

**Out of sample.** Leave one dossier out: for each labelled dossier, the pair is fitted on the
others and applied to it. The figures printed are those predictions, never the fit on all
dossiers. The defaults in ``EvidenceOnlySettings`` are the pair fitted on every dossier.

**Fit between dossier and référentiel** (``--fit``). Every labelled dossier is also read against
every block of every référentiel it was not written for. The coverage figure of a (dossier,
block) pair is the share of the block's written criteria whose score reaches ``threshold``
(``evidence_only.referential_fit``). ``fit_threshold`` is the largest hundredth that alerts none
of the labelled (dossier, own block) pairs; the table shows how many pairs of another field
(a web developer's dossier against a commerce block) it alerts. This one is fitted in sample:
there are too few off-field dossiers to hold one out.

The real dossiers are read from ``../shared/realdata``; without them only the sample dossiers
are used, and the script says so.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "evals"), str(ROOT / "benchmarks")]

from retrieval_labels import load_labelled_set  # noqa: E402
from retrieval_real import evaluate  # noqa: E402

MIN_DECIDED = 0.7
GRID = [i / 100 for i in range(5, 81)]


@dataclass(frozen=True)
class Row:
    dossier: str
    source: str
    present: bool
    score: float


@dataclass(frozen=True)
class Rule:
    threshold: float
    confident: float

    def shown(self, score: float) -> bool:
        """« à examiner », with or without the weak-signal flag."""
        return score >= self.threshold

    def decided(self, score: float) -> bool:
        return score < self.threshold or score >= self.confident


def rows() -> list[Row]:
    """(dossier, source, label, score) for every labelled criterion assessable in writing."""
    labelled = load_labelled_set()
    for note in labelled.skipped:
        print(f"skipped: {note}", file=sys.stderr)
    return [
        Row(run.key, run.source, c.present, round(c.best_coverage, 4))
        for run in evaluate(labelled)
        for c in run.criteria
    ]


def balanced_accuracy(rows: Sequence[Row], shown: Sequence[bool]) -> float | None:
    rates = []
    for present in (True, False):
        subset = [s for r, s in zip(rows, shown, strict=True) if r.present is present]
        if subset:
            rates.append(sum(s is present for s in subset) / len(subset))
    return sum(rates) / 2 if len(rates) == 2 else None


def fit(rows: Sequence[Row]) -> Rule:
    """The rule that tells present from absent best on the criteria it decides (see the docstring)."""
    best: tuple[float, float, float, float] | None = None
    chosen = Rule(GRID[0], GRID[0])
    for i, low in enumerate(GRID):
        for high in GRID[i:]:
            rule = Rule(low, high)
            decided = [r for r in rows if rule.decided(r.score)]
            if len(decided) < MIN_DECIDED * len(rows):
                continue
            ba = balanced_accuracy(decided, [rule.shown(r.score) for r in decided])
            if ba is None:
                continue
            key = (round(ba, 6), len(decided) / len(rows), -low, -high)
            if best is None or key > best:
                best, chosen = key, rule
    return chosen


@dataclass
class Outcome:
    row: Row
    rule: Rule

    @property
    def shown(self) -> bool:
        return self.rule.shown(self.row.score)

    @property
    def decided(self) -> bool:
        return self.rule.decided(self.row.score)


def leave_one_dossier_out(rows: Sequence[Row]) -> list[Outcome]:
    outcomes = []
    for dossier in dict.fromkeys(r.dossier for r in rows):
        rule = fit([r for r in rows if r.dossier != dossier])
        outcomes += [Outcome(r, rule) for r in rows if r.dossier == dossier]
    return outcomes


def _figures(outcomes: Sequence[Outcome]) -> str:
    decided = [o for o in outcomes if o.decided]
    ba_decided = balanced_accuracy([o.row for o in decided], [o.shown for o in decided])
    ba_all = balanced_accuracy([o.row for o in outcomes], [o.shown for o in outcomes])
    present = sum(o.row.present for o in outcomes)

    def fmt(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    return (
        f"{len(outcomes)} | {present} | {len(outcomes) - present} | {len(decided) / len(outcomes):.0%} | "
        f"{fmt(ba_decided)} | {fmt(ba_all)}"
    )


@dataclass(frozen=True)
class Pair:
    dossier: str
    referential: str
    block: str
    own: bool
    other_field: bool
    coverage: float


def fit_pairs(threshold: float) -> list[Pair]:
    """Every labelled dossier against every block with written criteria, with its coverage figure."""
    import tempfile

    from retrieval_real import _settings

    from assessor.dossiers import DossierStore
    from assessor.evidence_only import assess, referential_fit
    from assessor.library import Library
    from assessor.referential import Referential
    from assessor.settings import EvidenceOnlySettings

    def field(referential_id: str) -> str:
        return "web" if referential_id.startswith("dwwm") else "commerce"

    labelled = load_labelled_set()
    pairs = []
    settings = EvidenceOnlySettings(threshold=threshold, confident=max(threshold, 0.0))
    with tempfile.TemporaryDirectory(prefix="assessor-fit-") as tmp:
        store = DossierStore(_settings(Path(tmp), dense=False))
        library = Library.from_settings(store.settings)
        referentials = [r for _, r in library.all() if isinstance(r, Referential)]
        for dossier in labelled.dossiers:
            store.ingest(dossier.key, dossier.files)
            retriever = store.retriever(dossier.key)
            for referential in referentials:
                for block in referential.blocks:
                    criteria = referential.criteria_of(block.code)
                    found = {c.id: retriever.search_criterion(c, siblings=criteria) for c in criteria}
                    results = {c.id: assess(c, found[c.id], settings=settings) for c in criteria}
                    fit = referential_fit(results, criteria, settings)
                    if not fit.criteria:
                        continue
                    own = referential.id == dossier.referential and block.code in dossier.blocks
                    other = field(referential.id) != field(dossier.referential)
                    pairs.append(Pair(dossier.key, referential.id, block.code, own, other, fit.coverage))
    return pairs


def fit_threshold(pairs: Sequence[Pair]) -> float:
    """The largest hundredth below which no labelled (dossier, own block) pair falls."""
    return math.floor(round(min(p.coverage for p in pairs if p.own) * 100, 6)) / 100


def fit_main() -> int:
    from assessor.settings import EvidenceOnlySettings

    pairs = fit_pairs(EvidenceOnlySettings().threshold)
    chosen = fit_threshold(pairs)
    print("Fit between dossier and référentiel: share of a block's written criteria with a passage that treats them\n")
    print("| pairs | n | coverage (min – median – max) | alerted « dossier_hors_referentiel » |")
    print("|---|---:|---|---:|")
    for name, subset in (
        ("dossier and its own block", [p for p in pairs if p.own]),
        ("dossier and a block of another field", [p for p in pairs if p.other_field]),
        ("dossier and another block of its field", [p for p in pairs if not p.own and not p.other_field]),
    ):
        values = sorted(p.coverage for p in subset)
        alerted = sum(v < chosen for v in values)
        print(
            f"| {name} | {len(values)} | {values[0]:.2f} – {values[len(values) // 2]:.2f} – {values[-1]:.2f} | "
            f"{alerted} ({alerted / len(values):.0%}) |"
        )
    print(f"\nfit_threshold = {chosen:.2f} (default in EvidenceOnlySettings; alert when coverage is below it)")
    return 0


def main() -> int:
    if "--fit" in sys.argv[1:]:
        return fit_main()
    data = rows()
    outcomes = leave_one_dossier_out(data)
    sources = sorted({r.source for r in data})
    if "realdata" not in sources:
        print("Real dossiers absent (../shared/realdata): sample dossiers only.\n")
    print("Evidence-only default, leave one dossier out (each dossier judged by thresholds fitted on the others)\n")
    print(
        "| dossiers | criteria | evidence present | no evidence | decided | balanced accuracy (decided) "
        "| balanced accuracy (all, « signal faible » as « à examiner ») |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, subset in (
        ("real dossiers", [o for o in outcomes if o.row.source == "realdata"]),
        ("sample dossiers", [o for o in outcomes if o.row.source == "sample"]),
        ("total", outcomes),
    ):
        if subset:
            print(f"| {name} | {_figures(subset)} |")
    print("\nPer dossier (thresholds fitted without it)\n")
    print(
        "| dossier | threshold | confident | criteria | evidence present | no evidence | decided "
        "| BA (decided) | BA (all) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for dossier in dict.fromkeys(o.row.dossier for o in outcomes):
        subset = [o for o in outcomes if o.row.dossier == dossier]
        rule = subset[0].rule
        print(f"| {dossier} | {rule.threshold:.2f} | {rule.confident:.2f} | {_figures(subset)} |")
    final = fit(data)
    print(
        f"\nFitted on every dossier: threshold = {final.threshold:.2f}, confident = {final.confident:.2f} "
        "(defaults in EvidenceOnlySettings)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
