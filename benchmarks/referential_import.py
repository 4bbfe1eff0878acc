"""Référentiel import: the five seeds against their curated YAML, the RC and REAC of a real title, and
every fiche of the open-data sample, in one table.

    python benchmarks/referential_import.py [--shared DIR] [--details]

Rows:

- **seed text**: each ``referentials/*.yaml`` names its seed (``source.file``), a pdftotext
  extraction in ``../shared/seeds``; the seed is imported (``assessor referentials import`` on the
  text) and its criteria compared with the curated ones;
- **RC PDF**, **REAC PDF**: ``../shared/realdata/referentiels/TP_developpeur_logiciel_*.pdf``. No
  curated YAML exists for them. The RC prints a selection of the REAC's criteria again, so the RC
  row's precision is the share of its criteria found in the REAC (its recall is not defined: the RC
  chooses which criteria to print); the REAC row gives counts only. Both were checked by hand
  against the PDFs (24 and 50 printed criteria, see ``tests/test_importer.py``);
- **XML fiche**: each fiche of ``export_fiches_RNCP_fixture.xml``. The open data prints no criteria
  (each competency is assessed at competency level): the row checks that every block code of the
  fiche is in the draft (« codes » column).

Definitions:

- texts are compared after normalisation: Unicode NFKC, spaces before punctuation and inside
  brackets and quotes removed, dashes, apostrophes and quotes unified, case folded, hyphens between
  letters (a word cut at a line's end) and soft hyphens removed, whitespace collapsed, final
  punctuation dropped;
- an imported criterion **matches** a curated one when rapidfuzz's ``ratio`` of the two reaches
  ``MATCH`` (90): the curated YAML corrects a few OCR errors in seed 004 that the import keeps;
  each curated criterion is matched at most once (greedy, best pairs first);
- **recall** = curated criteria matched / curated criteria; **precision** = imported criteria
  matched / imported criteria. The competency a criterion is attached to is not compared;
- **printed criteria** are read from the document; **competency level** counts the competencies
  without any, assessed as a whole (the competency is the criterion);
- **unread** = entries of the draft's « non lu » list (pages without text, competencies of a
  document missing from the fiche, blocks without competency…);
- **time**: wall clock of the import, reading included.

``--details`` prints the unmatched criteria of every row: text of third-party documents, for reading
on this machine only, never to commit.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from assessor.importer import Draft, draft_of, import_sources, iter_fiches
from assessor.library import load_referential
from assessor.referential import CriterionLevel

ROOT = Path(__file__).resolve().parent.parent
MATCH = 90.0


@dataclass
class Row:
    source: str
    kind: str
    blocks: int
    competencies: int
    criteria: int
    recall: float | None
    precision: float | None
    unread: int
    seconds: float
    codes: str = "—"
    reference: int = 0
    competency_level: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = re.sub(r"\s+([,.;:!?)»”])", r"\1", text)  # French spacing before punctuation, or none
    text = re.sub(r"([(«“])\s+", r"\1", text)
    text = re.sub(r"[‐‑‒–—]", "-", text)
    text = re.sub(r"[’ʼ‘`]", "'", text)
    text = re.sub(r"[«»“”]", '"', text)
    text = re.sub(r"(?<=\w)-\s*(?=\w)", "", text)
    text = re.sub(r"\s+", " ", text).strip().casefold()
    return text.rstrip(" .,;:")


def agreement(imported: list[str], curated: list[str]) -> tuple[float, float, list[str], list[str]]:
    """(recall, precision, curated criteria missed, imported criteria that match nothing)."""
    a = [normalise(t) for t in imported]
    b = [normalise(t) for t in curated]
    pairs = sorted(
        ((fuzz.ratio(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b) if fuzz.ratio(x, y) >= MATCH),
        reverse=True,
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    recall = len(used_b) / len(b) if b else 1.0
    precision = len(used_a) / len(a) if a else 1.0
    missed = [curated[j] for j in range(len(b)) if j not in used_b]
    extra = [imported[i] for i in range(len(a)) if i not in used_a]
    return recall, precision, missed, extra


def printed(draft: Draft) -> list[str]:
    return [c.text for c in draft.referential.criteria if c.level is CriterionLevel.CRITERION]


def row(source: str, kind: str, draft: Draft, seconds: float, curated: list[str] | None) -> Row:
    counts = draft.referential.counts()
    found = printed(draft)
    recall = precision = None
    missed: list[str] = []
    extra: list[str] = []
    if curated is not None:
        recall, precision, missed, extra = agreement(found, curated)
    return Row(
        source,
        kind,
        counts["blocks"],
        counts["competencies"],
        len(found),
        recall,
        precision,
        len(draft.unread),
        seconds,
        missed=missed,
        extra=extra,
        reference=len(curated or []),
        competency_level=counts["criteria"] - len(found),
    )


def timed_import(paths: list[Path]) -> tuple[Draft, float]:
    begin = time.perf_counter()
    draft = import_sources(paths)
    return draft, time.perf_counter() - begin


def seed_rows(shared: Path) -> list[Row]:
    rows = []
    for yaml_path in sorted((ROOT / "referentials").glob("*.yaml")):
        curated = load_referential(yaml_path)
        seed = shared / "seeds" / curated.source.file
        if not seed.is_file():
            print(f"skipped {yaml_path.name}: {seed} is absent", file=sys.stderr)
            continue
        draft, seconds = timed_import([seed])
        rows.append(row(seed.name, "seed text", draft, seconds, [c.text for c in curated.criteria]))
    return rows


def pdf_rows(shared: Path) -> list[Row]:
    folder = shared / "realdata" / "referentiels"
    rc_path, reac_path = folder / "TP_developpeur_logiciel_RC.pdf", folder / "TP_developpeur_logiciel_REAC.pdf"
    if not (rc_path.is_file() and reac_path.is_file()):
        print(f"skipped the RC and REAC: absent from {folder}", file=sys.stderr)
        return []
    reac, reac_seconds = timed_import([reac_path])
    rc, rc_seconds = timed_import([rc_path])
    rc_row = row(rc_path.name, "RC PDF", rc, rc_seconds, None)
    _, rc_row.precision, _, rc_row.extra = agreement(printed(rc), printed(reac))
    return [rc_row, row(reac_path.name, "REAC PDF", reac, reac_seconds, None)]


def xml_rows(shared: Path) -> list[Row]:
    export = shared / "realdata" / "referentiels" / "export_fiches_RNCP_fixture.xml"
    if not export.is_file():
        print(f"skipped the open data: {export} is absent", file=sys.stderr)
        return []
    rows = []
    begin = time.perf_counter()
    for fiche in iter_fiches(export):
        draft = draft_of([fiche])
        seconds = time.perf_counter() - begin
        codes = {b.code for b in fiche.blocks if b.code}
        present = {b.code for b in draft.referential.blocks}
        result = row(fiche.rncp or "?", "XML fiche", draft, seconds, None)
        result.codes = f"{len(codes & present)}/{len(codes)}"
        rows.append(result)
        begin = time.perf_counter()
    return rows


def table(rows: list[Row]) -> list[str]:
    def fmt(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    lines = [
        "| source | kind | blocks | competencies | printed criteria | competency level | recall | precision | codes "
        "| unread | time s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.source} | {r.kind} | {r.blocks} | {r.competencies} | {r.criteria} | {r.competency_level} | "
        f"{fmt(r.recall)} | "
        f"{fmt(r.precision)} | {r.codes} | {r.unread} | {r.seconds:.2f} |"
        for r in rows
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder")
    parser.add_argument("--details", action="store_true", help="print unmatched criteria (third-party text)")
    args = parser.parse_args()
    rows = seed_rows(args.shared) + pdf_rows(args.shared) + xml_rows(args.shared)
    print("\n".join(table(rows)))
    seeds = [r for r in rows if r.kind == "seed text"]
    if seeds:
        reference = sum(r.reference for r in seeds)
        imported = sum(r.criteria for r in seeds)
        missed = sum(len(r.missed) for r in seeds)
        extra = sum(len(r.extra) for r in seeds)
        print(
            f"\nSeeds together (micro average): recall {(reference - missed) / reference:.3f} "
            f"({reference - missed}/{reference}), precision {(imported - extra) / imported:.3f} "
            f"({imported - extra}/{imported}); --details lists the differences."
        )
    if args.details:
        for r in rows:
            for text in r.missed:
                print(f"MISSED {r.source}: {text}")
            for text in r.extra:
                print(f"EXTRA  {r.source}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
