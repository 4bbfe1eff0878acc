"""Retrieval on real dossiers written by others and on the sample dossiers: precision@5, recall@5, furniture.

    python benchmarks/retrieval_real.py [--dense] [--no-budget] [--realdata DIR] [--details]

Dossiers and labels come from ``evals/retrieval_labels.load_labelled_set()``: the real
dossiers of ``../shared/realdata/dossiers`` labelled in ``evals/datasets/realdata_retrieval.yaml``
(rules in ``evals/retrieval-labels.md``; a dossier whose file is absent or whose labels no longer
rebuild is skipped with the reason) and the four sample dossiers (their ``labels.json``). Only
criteria assessable in writing are evaluated.

Each dossier is ingested into a fresh temporary data folder with the current settings
(lexical retrieval, no model; ``--dense``: the packaged all-MiniLM-L6-v2, fused). For every
labelled criterion the passages are what the pipeline gives an assessor: ``search_criterion``
with the other criteria of its block as siblings, then ``assessor.pipeline.budgeted`` to the
default evidence budget (``--no-budget``: the ranking alone); the **top 5** are the first five
of these (fewer when the budget stops earlier).

Definitions (implemented in ``evals/retrieval_labels.py``, tested in
``tests/test_realdata_labels.py``):

- texts are compared in *compact* form: Unicode NFKC, case folded, letters and digits only
  (whitespace, punctuation, hyphenation, « | » table separators and quote styles removed);
- a passage **hits** a gold excerpt when the passage's compact text contains at least 60 % of
  the excerpt's compact text as ONE contiguous piece. Contiguous because a jury reads in order:
  words of the excerpt scattered through interleaved columns are not the excerpt; 60 % rather
  than all of it because a chunk boundary may cut an excerpt and a passage showing most of it
  still leads the reader there; more than half so that two disjoint halves cannot both count;
- **precision@5** = passages of the top 5 that hit at least one gold excerpt of their criterion
  / passages returned (at most 5), summed over the criteria that have evidence (micro average);
- **recall@5** = gold excerpts hit by at least one passage of their criterion's top 5 / gold
  excerpts (micro average); **found@5** = criteria with evidence with at least one excerpt hit;
- a passage is **furniture** when, once the dossier's labelled furniture lines are removed from
  it (whole, or as runs of two or more consecutive words of at least 10 letters and digits), fewer
  than 60 letters and digits remain: a cover, a table of contents, a running footer, a form
  heading, or a bare heading. **Furniture@5** = furniture passages / passages returned, over all
  evaluated criteria of the dossier, with or without evidence. **Furniture text@5** = letters and
  digits of the top-5 passages that are furniture / all their letters and digits: large chunks
  mix furniture with content, which the passage count does not show. The sample dossiers' furniture
  (cover, table of contents, running header and footer) is derived by rule, see
  ``sample_furniture``;
- **latency**: wall-clock time of each ``search_criterion`` call (the first query of a block also
  scores its siblings, as during an assessment), p50 and p95 per dossier; **ingest s**: time of
  ``DossierStore.ingest`` for the dossier's file.

The evidence-only assessor (``assessor.evidence_only``) is then run on every criterion: the
second table crosses its outcome (« à examiner » / « preuves insuffisantes ») with the label
(evidence present / absent), with the balanced accuracy of « à examiner » as a detector of
present evidence: (share of present criteria flagged « à examiner » + share of absent criteria
flagged « preuves insuffisantes ») / 2. ``evaluate()`` returns the per-criterion records
(``CriterionRun``: label, passages, hits, furniture flags, latency, evidence-only outcome and best
key-term coverage) for other uses, such as calibrating the evidence-only threshold out of sample.

``--details`` prints, per criterion, the rank, verdict (hit, furniture, other) and start of each
top-5 passage: text of third-party documents, for reading on this machine only, never to commit.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "evals"))

from retrieval_labels import (  # noqa: E402
    REALDATA,
    REFERENTIALS,
    LabelledDossier,
    LabelledSet,
    compact,
    hits,
    load_labelled_set,
)

from assessor.chunking import Chunk  # noqa: E402
from assessor.dossiers import DossierStore  # noqa: E402
from assessor.evidence_only import assess, evidence_score  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.llm import LLMSettings  # noqa: E402
from assessor.pipeline import budgeted  # noqa: E402
from assessor.results import EVIDENCE_TO_EXAMINE, Flag  # noqa: E402
from assessor.settings import Settings  # noqa: E402

DENSE_MODEL = "st:all-MiniLM-L6-v2"
TOP = 5


@dataclass
class CriterionRun:
    """One labelled criterion, as retrieval and the evidence-only assessor saw it."""

    dossier: str
    criterion_id: str
    present: bool
    gold: int
    passages: list[Chunk]
    hit: list[bool]
    furniture: list[bool]
    chars: list[int]
    furniture_chars: list[int]
    gold_found: int
    latency_ms: float
    evidence_only: str
    weak_signal: bool
    best_coverage: float


@dataclass
class DossierRun:
    key: str
    source: str
    ingest_s: float
    criteria: list[CriterionRun] = field(default_factory=list)


def _settings(data_dir: Path, *, dense: bool) -> Settings:
    return Settings(
        data_dir=data_dir,
        referentials_dirs=[REFERENTIALS],
        embedding={"model": DENSE_MODEL if dense else "none"},
    )


def run_dossier(store: DossierStore, dossier: LabelledDossier, library: Library, *, budget: int | None) -> DossierRun:
    """Ingest one labelled dossier and evaluate every labelled criterion assessable in writing."""
    start = time.perf_counter()
    store.ingest(dossier.key, dossier.files)
    run = DossierRun(dossier.key, dossier.source, time.perf_counter() - start)
    retriever = store.retriever(dossier.key)
    referential = library.get(dossier.referential)
    furniture = dossier.furniture
    by_id = {c.id: c for c in referential.criteria}
    for label in dossier.criteria:
        criterion = by_id[label.id]
        if not criterion.written_assessable:
            continue
        siblings = referential.criteria_of(criterion.block)
        t0 = time.perf_counter()
        ranked = retriever.search_criterion(criterion, siblings=siblings)
        latency = (time.perf_counter() - t0) * 1000
        chunks = [p.chunk for p in ranked]
        top = (budgeted(chunks, budget) if budget else chunks)[:TOP]
        result = assess(criterion, ranked)  # the passages the pipeline shares with the evidence-only default
        run.criteria.append(
            CriterionRun(
                dossier=dossier.key,
                criterion_id=label.id,
                present=label.present,
                gold=len(label.gold),
                passages=top,
                hit=[any(hits(c.text, g.text) for g in label.gold) for c in top],
                furniture=[furniture.is_furniture(c.text) for c in top],
                chars=[len(compact(c.text)) for c in top],
                furniture_chars=[len(compact(c.text)) - furniture.residue(c.text) for c in top],
                gold_found=sum(any(hits(c.text, g.text) for c in top) for g in label.gold),
                latency_ms=latency,
                evidence_only=str(result.outcome),
                weak_signal=Flag.WEAK_SIGNAL in result.flags,
                best_coverage=evidence_score(criterion, ranked),
            )
        )
    return run


def evaluate(labelled: LabelledSet, *, dense: bool = False, budget: bool = True) -> list[DossierRun]:
    """Every labelled dossier ingested in a fresh temporary folder and evaluated."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="assessor-retrieval-real-") as tmp:
        settings = _settings(Path(tmp), dense=dense)
        store = DossierStore(settings)
        _ = store.index  # load the embedding model before timing any ingestion
        library = Library.from_settings(settings)
        chars = LLMSettings().evidence_budget_chars if budget else None
        for dossier in labelled.dossiers:
            runs.append(run_dossier(store, dossier, library, budget=chars))
    return runs


# --- tables -----------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.2f}" if den else "n/a"


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _row(name: str, criteria: list[CriterionRun], ingest_s: float) -> str:
    present = [c for c in criteria if c.present]
    returned = sum(len(c.passages) for c in criteria)
    returned_present = sum(len(c.passages) for c in present)
    latencies = [c.latency_ms for c in criteria]
    cells = [
        name,
        f"{len(criteria)} ({len(present)} / {len(criteria) - len(present)})",
        f"{returned / len(criteria):.1f}" if criteria else "n/a",
        _ratio(sum(sum(c.furniture) for c in criteria), returned),
        _ratio(sum(sum(c.furniture_chars) for c in criteria), sum(sum(c.chars) for c in criteria)),
        _ratio(sum(sum(c.hit) for c in present), returned_present),
        _ratio(sum(c.gold_found for c in present), sum(c.gold for c in present)),
        _ratio(sum(c.gold_found > 0 for c in present), len(present)),
        f"{_percentile(latencies, 50):.1f}",
        f"{_percentile(latencies, 95):.1f}",
        f"{ingest_s:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def retrieval_table(runs: list[DossierRun]) -> list[str]:
    lines = [
        "| dossier | criteria (with / without evidence) | passages per criterion | furniture@5 | furniture text@5 "
        "| precision@5 | recall@5 | found@5 | p50 ms | p95 ms | ingest s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(r.key, r.criteria, r.ingest_s) for r in runs]
    for name, group in (
        ("**real dossiers**", [r for r in runs if r.source == "realdata"]),
        ("**sample dossiers**", [r for r in runs if r.source == "sample"]),
        ("**total**", runs),
    ):
        if group:
            lines.append(_row(name, [c for r in group for c in r.criteria], sum(r.ingest_s for r in group)))
    return lines


def evidence_only_table(runs: list[DossierRun]) -> list[str]:
    lines = [
        "| criteria | labelled | « à examiner » | of which « signal faible » | « preuves insuffisantes » | other "
        "| balanced accuracy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, group in (
        ("real dossiers", [c for r in runs if r.source == "realdata" for c in r.criteria]),
        ("sample dossiers", [c for r in runs if r.source == "sample" for c in r.criteria]),
        ("total", [c for r in runs for c in r.criteria]),
    ):
        rates = []
        for present in (True, False):
            subset = [c for c in group if c.present is present]
            shown = sum(c.evidence_only == EVIDENCE_TO_EXAMINE for c in subset)
            hidden = sum(c.evidence_only == "preuves_insuffisantes" for c in subset)
            weak = sum(c.weak_signal for c in subset)
            if subset:
                rates.append((shown if present else hidden) / len(subset))
            lines.append(
                f"| {name} | {'evidence present' if present else 'no evidence'} ({len(subset)}) | {shown} | {weak} | "
                f"{hidden} | {len(subset) - shown - hidden} | "
                + (f"{sum(rates) / 2:.2f} |" if not present and len(rates) == 2 else " |")
            )
    return lines


def details(runs: list[DossierRun]) -> Iterator[str]:
    for run in runs:
        for c in run.criteria:
            yield f"{run.key} {c.criterion_id} ({'present' if c.present else 'absent'}, {c.evidence_only})"
            for rank, (chunk, hit, furn) in enumerate(zip(c.passages, c.hit, c.furniture, strict=True), start=1):
                verdict = "HIT " if hit else "FURN" if furn else "    "
                text = re.sub(r"\s+", " ", chunk.text)[:110]
                yield f"  {rank} {verdict} {chunk.locator:>14} {len(chunk.text):5d} {text}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", action="store_true", help=f"index with {DENSE_MODEL} and fuse (default: lexical)")
    parser.add_argument("--no-budget", action="store_true", help="top 5 of the ranking, without the evidence budget")
    parser.add_argument("--realdata", type=Path, default=REALDATA, help="folder holding the real dossiers' PDFs")
    parser.add_argument("--details", action="store_true", help="print every top-5 passage (third-party text)")
    args = parser.parse_args()
    begin = time.perf_counter()
    labelled = load_labelled_set(args.realdata)
    for skipped in labelled.skipped:
        print(f"skipped {skipped.key}: {skipped.reason}", file=sys.stderr)
    runs = evaluate(labelled, dense=args.dense, budget=not args.no_budget)
    mode = f"fused with {DENSE_MODEL}" if args.dense else "lexical"
    budget = "ranking only" if args.no_budget else f"evidence budget {LLMSettings().evidence_budget_chars} chars"
    print(f"Retrieval on labelled dossiers ({mode}, {budget}, top {TOP})\n")
    print("\n".join(retrieval_table(runs)))
    print("\nEvidence-only assessor against the labels\n")
    print("\n".join(evidence_only_table(runs)))
    if args.details:
        print("\n" + "\n".join(details(runs)))
    print(f"\n({time.perf_counter() - begin:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
