"""Retrieval benchmark: evidence recall on the annotated sample dossiers, speed, real documents.

    python benchmarks/retrieval.py [--no-dense] [--realdata DIR]

Prints Markdown tables:

1. recall@5, recall@10 and MRR of the gold evidence of every criterion that has some, for
   the plain baseline (BM25 with a French stemmer over one chunk per page, queried with the
   criterion text alone) and for Assessor's lexical, dense (all-MiniLM-L6-v2, packaged)
   and fused retrieval. A criterion counts as found at k when one of its top-k passages
   covers at least half of one of its gold quotes (same file, same page, overlapping
   characters of the normalised page text).
2. ingestion speed of a 60-page text PDF (pages/s, chunks/s including embedding);
3. query latency p50/p95 on a 100-page dossier, one query per criterion of the five
   référentiels, each with the other criteria of its block (their scores are computed on
   the first query of a block and cached, as during an assessment);
4. ingestion of every file of ../shared/realdata/dossiers/ (pages, chunks, warnings, time).

Every run uses a fresh temporary data folder. Timings are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sample_dossiers"))

import build  # noqa: E402 - the sample dossiers' renderer, to make long test PDFs

from assessor.analysis import analyze  # noqa: E402
from assessor.chunking import Chunk  # noqa: E402
from assessor.dossiers import DossierStore  # noqa: E402
from assessor.ingest import load_file  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.referential import Criterion  # noqa: E402
from assessor.retrieval import Retriever  # noqa: E402
from assessor.settings import (  # noqa: E402
    RetrievalMode,
    Settings,
)

DENSE_MODEL = "st:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Gold:
    file: str
    page: int
    start: int
    end: int


def _collapse(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs collapsed to one space, and the original index of each char."""
    out: list[str] = []
    index: list[int] = []
    previous_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if previous_space:
                continue
            out.append(" ")
            previous_space = True
        else:
            out.append(ch)
            previous_space = False
        index.append(i)
    return "".join(out), index


def locate_gold(quote: str, pages: dict[int, str], page: int) -> tuple[int, int] | None:
    """Character span of a quote in the normalised text of its page (whitespace-insensitive)."""
    flat, index = _collapse(pages[page])
    needle = " ".join(quote.split())
    pos = flat.find(needle)
    if pos < 0:
        return None
    return index[pos], index[pos + len(needle) - 1] + 1


def covers(chunk: Chunk, gold: Gold, page_lengths: dict[int, int]) -> bool:
    if chunk.file != gold.file or not chunk.page_start <= gold.page <= chunk.page_end:
        return False
    start = chunk.char_start if gold.page == chunk.page_start else 0
    end = chunk.char_end if gold.page == chunk.page_end else page_lengths[gold.page]
    overlap = min(end, gold.end) - max(start, gold.start)
    return overlap >= (gold.end - gold.start) / 2


def load_samples() -> list[dict[str, object]]:
    return [
        json.loads(p.read_text(encoding="utf-8")) | {"folder": p.parent}
        for p in sorted((ROOT / "sample_dossiers").glob("*/labels.json"))
    ]


def golds(sample: dict[str, object]) -> tuple[dict[str, list[Gold]], dict[int, str]]:
    folder = Path(str(sample["folder"]))
    loaded = load_file(folder / "dossier.pdf")
    pages = {p.number: p.text for p in loaded.pages}
    result: dict[str, list[Gold]] = {}
    for entry in sample["criteria"]:  # type: ignore[attr-defined]
        spans = []
        for ev in entry["evidence"]:
            span = locate_gold(ev["quote"], pages, ev["page"])
            if span is None and ev.get("page_end"):
                span = locate_gold(ev["quote"].split()[0], pages, ev["page"])  # quote across a page break
            if span is not None:
                spans.append(Gold("dossier.pdf", ev["page"], *span))
        if spans:
            result[entry["criterion_id"]] = spans
    return result, pages


def rank_of(chunks: list[Chunk], gold: list[Gold], page_lengths: dict[int, int]) -> int | None:
    return next((i + 1 for i, c in enumerate(chunks) if any(covers(c, g, page_lengths) for g in gold)), None)


def page_baseline(
    criteria: dict[str, Criterion], gold: dict[str, list[Gold]], pages: dict[int, str]
) -> list[int | None]:
    """BM25 with the French stemmer over one document per page, queried with the criterion text."""
    numbers = sorted(pages)
    retriever = bm25s.BM25()
    retriever.index([analyze(pages[n]) or [""] for n in numbers], show_progress=False)
    ranks = []
    for crit_id, spans in gold.items():
        tokens = [t for t in analyze(criteria[crit_id].text) if t in retriever.vocab_dict]
        scores = np.asarray(retriever.get_scores(tokens)) if tokens else np.zeros(len(numbers))
        order = [numbers[i] for i in np.argsort(-scores, kind="stable")[:10]]
        gold_pages = {g.page for g in spans}
        ranks.append(next((i + 1 for i, n in enumerate(order) if n in gold_pages), None))
    return ranks


def metrics(ranks: list[int | None]) -> tuple[float, float, float]:
    n = len(ranks)
    r5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    r10 = sum(1 for r in ranks if r is not None and r <= 10) / n
    mrr = sum(1 / r for r in ranks if r is not None) / n
    return r5, r10, mrr


def recall_table(dense: bool) -> list[str]:
    library = Library.from_settings(Settings())
    rows: dict[str, list[int | None]] = {"baseline: BM25 + stemmer, page chunks, criterion text": []}
    modes = [RetrievalMode.LEXICAL] + ([RetrievalMode.DENSE, RetrievalMode.FUSED] if dense else [])
    for mode in modes:
        rows[f"assessor {mode}"] = []
    with tempfile.TemporaryDirectory(prefix="assessor-bench-") as tmp:
        stores = {"none": DossierStore(Settings(data_dir=Path(tmp)))}
        if dense:
            stores[DENSE_MODEL] = DossierStore(Settings(data_dir=Path(tmp), embedding={"model": DENSE_MODEL}))
        for sample in load_samples():
            gold, pages = golds(sample)
            page_lengths = {n: len(t) for n, t in pages.items()}
            ref = library.get(str(sample["referential"]))
            criteria = {c.id: c for c in ref.criteria}
            block = ref.criteria_of(str(sample["block"]))
            rows["baseline: BM25 + stemmer, page chunks, criterion text"] += page_baseline(criteria, gold, pages)
            for spec, store in stores.items():
                store.ingest(str(sample["dossier"]), [Path(str(sample["folder"])) / "dossier.pdf"])
                retriever = store.retriever(str(sample["dossier"]))
                for mode in modes:
                    if (spec == "none") != (mode is RetrievalMode.LEXICAL):
                        continue
                    for crit_id, spans in gold.items():
                        passages = retriever.search_criterion(criteria[crit_id], k=10, mode=mode, siblings=block)
                        rows[f"assessor {mode}"].append(rank_of([p.chunk for p in passages], spans, page_lengths))
    n = len(rows["assessor lexical"])
    lines = [
        f"Evidence recall on the {len(load_samples())} sample dossiers ({n} criteria with gold evidence)",
        "",
        "| method | recall@5 | recall@10 | MRR |",
        "|---|---:|---:|---:|",
    ]
    for name, ranks in rows.items():
        r5, r10, mrr = metrics(ranks)
        lines.append(f"| {name} | {r5:.2f} | {r10:.2f} | {mrr:.2f} |")
    return lines


def long_pdf(path: Path, pages: int) -> Path:
    """A text PDF of ``pages`` pages made from the sample dossiers' text."""
    sources = [
        build.parse_source((p / "source.md").read_text(encoding="utf-8"))[1]
        for p in sorted((ROOT / "sample_dossiers").glob("*/"))
        if (p / "source.md").exists()
    ]
    pool: list[build.Element] = []
    while len(pool) < pages * 30:
        for source in sources:
            pool += [e for e in source if e.kind != "pagebreak"]
    meta = {
        "title": "Dossier long",
        "subtitle": "Banc d'essai",
        "candidate": "Camille Essai",
        "organisation": "Société fictive",
        "session": "Session 2026",
    }
    count = pages * 9
    for _ in range(6):  # adjust the amount of text until the page count is exact
        build.render_pdf(meta, pool[:count], path)
        got = len(load_file(path).pages)
        if got == pages:
            break
        count = max(1, count + round((pages - got) * count / got) + (1 if got < pages else -1))
    return path


def speed_tables(dense: bool) -> list[str]:
    lines = [
        "Ingestion speed (fresh data folder each time)",
        "",
        "| document | embeddings | pages | chunks | seconds | pages/s | chunks/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    latency = [
        "Query latency on a 100-page dossier (one query per criterion of the five référentiels)",
        "",
        "| retrieval | queries | p50 ms | p95 ms |",
        "|---|---:|---:|---:|",
    ]
    library = Library.from_settings(Settings())
    referentials = [ref for _, ref in library.all() if not isinstance(ref, Exception)]
    criteria = [(c, ref.criteria_of(c.block)) for ref in referentials for c in ref.criteria]
    with tempfile.TemporaryDirectory(prefix="assessor-speed-") as tmp:
        sixty = long_pdf(Path(tmp) / "soixante.pdf", 60)
        hundred = long_pdf(Path(tmp) / "cent.pdf", 100)
        specs = ["none"] + ([DENSE_MODEL] if dense else [])
        for spec in specs:
            for pdf in (sixty, hundred):
                store = DossierStore(
                    Settings(
                        data_dir=Path(tmp) / f"data-{spec.replace(':', '-')}-{pdf.stem}",
                        embedding={"model": spec},
                    )
                )
                _ = store.index  # load the model before timing ingestion
                start = time.perf_counter()
                report = store.ingest(pdf.stem, [pdf])
                seconds = time.perf_counter() - start
                record = report.added[0]
                lines.append(
                    f"| {record.pages}-page text PDF | {spec} | {record.pages} | {record.chunks} | "
                    f"{seconds:.2f} | {record.pages / seconds:.1f} | {record.chunks / seconds:.1f} |"
                )
                if pdf is hundred:
                    retriever: Retriever = store.retriever(pdf.stem)
                    timings = []
                    for criterion, block in criteria:  # as in assessment: with the block's other criteria
                        t0 = time.perf_counter()
                        retriever.search_criterion(criterion, k=8, siblings=block)
                        timings.append((time.perf_counter() - t0) * 1000)
                    p95 = statistics.quantiles(timings, n=20)[18]
                    latency.append(
                        f"| {retriever.mode} ({spec}) | {len(timings)} | {statistics.median(timings):.1f} | {p95:.1f} |"
                    )
    return [*lines, "", *latency]


def realdata_table(folder: Path) -> list[str]:
    if not folder.is_dir():
        return [f"(real documents not found in {folder}: table skipped)"]
    lines = [
        f"Ingestion of the real documents in {folder}",
        "",
        "| file | pages | chunks | OCR pages | unreadable pages | warnings | seconds |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="assessor-real-") as tmp:
        store = DossierStore(Settings(data_dir=Path(tmp)))
        for path in sorted(folder.iterdir()):
            start = time.perf_counter()
            try:
                report = store.ingest(re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)[:60], [path])
            except Exception as exc:  # the table reports any failure
                lines.append(f"| {path.name} | | | | | refused: {exc} | {time.perf_counter() - start:.2f} |")
                continue
            r = report.added[0]
            warnings = "; ".join(r.warnings) or "—"
            lines.append(
                f"| {path.name} | {r.pages} | {r.chunks} | {len(r.ocr_pages)} | {len(r.unreadable_pages)} | "
                f"{warnings} | {time.perf_counter() - start:.2f} |"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense model (faster)")
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata" / "dossiers")
    args = parser.parse_args()
    dense = not args.no_dense
    for table in (recall_table(dense), speed_tables(dense), realdata_table(args.realdata)):
        print("\n".join(table), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
