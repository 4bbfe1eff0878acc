"""Calibrate the evidence-only assessor's threshold on the annotated sample dossiers.

    python evals/calibrate_evidence_only.py

For each criterion assessable in writing, the score is the best share of the criterion's key
terms found in one of its five retrieved passages. The rule: the threshold is the largest
value (to the hundredth) that still shows passages for at least 95 % of the criteria that
have gold evidence, because telling a jury « preuves insuffisantes » when the evidence is
there is the costlier error. The table shows, for each threshold, how many criteria with
evidence would be hidden and how many without evidence would be flagged.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from assessor.dossiers import DossierStore
from assessor.evidence_only import coverage, key_terms
from assessor.library import Library
from assessor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TARGET_SHOWN = 0.95


def scores() -> list[tuple[bool, float]]:
    """(has gold evidence, best coverage) for every criterion assessable in writing."""
    library = Library.from_settings(Settings())
    rows: list[tuple[bool, float]] = []
    with tempfile.TemporaryDirectory(prefix="assessor-calibration-") as tmp:
        store = DossierStore(Settings(data_dir=Path(tmp)))
        for path in sorted((ROOT / "sample_dossiers").glob("*/labels.json")):
            labels = json.loads(path.read_text(encoding="utf-8"))
            block = library.get(labels["referential"]).criteria_of(labels["block"])
            store.ingest(labels["dossier"], [path.parent / "dossier.pdf"])
            retriever = store.retriever(labels["dossier"])
            by_id = {c.id: c for c in block}
            for entry in labels["criteria"]:
                criterion = by_id[entry["criterion_id"]]
                if not criterion.written_assessable:
                    continue
                terms = key_terms(criterion)
                passages = retriever.search_criterion(criterion, k=5, siblings=block)
                best = max((coverage(terms, p.chunk.text) for p in passages), default=0.0)
                rows.append((bool(entry["evidence"]), best))
    return rows


def calibrate(rows: list[tuple[bool, float]]) -> float:
    """The largest threshold, to the hundredth, that shows passages for 95 % of criteria with evidence."""
    positives = sorted(score for has, score in rows if has)
    allowed_hidden = math.floor(len(positives) * (1 - TARGET_SHOWN))
    return math.floor(positives[allowed_hidden] * 100) / 100


def main() -> int:
    rows = scores()
    chosen = calibrate(rows)
    positives = [s for has, s in rows if has]
    negatives = [s for has, s in rows if not has]
    print(f"{len(positives)} criteria with gold evidence, {len(negatives)} without (written modalities only)\n")
    print("| threshold | criteria with evidence shown | criteria without evidence flagged |")
    print("|---:|---:|---:|")
    for t in (0.10, 0.15, 0.20, chosen, 0.25, 0.30, 0.35, 0.40, 0.50):
        shown = sum(s >= t for s in positives) / len(positives)
        flagged = sum(s < t for s in negatives) / len(negatives) if negatives else 0.0
        mark = " (chosen)" if t == chosen else ""
        print(f"| {t:.2f}{mark} | {shown:.0%} | {flagged:.0%} |")
    print(f"\nthreshold = {chosen:.2f} (default in EvidenceOnlySettings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
