"""Scale benchmark: a synthetic manifest of 10,000 dossiers, the local and the Ray engines.

    python benchmarks/scale.py [--dossiers 10000] [--run 60] [--latency 0.2] [--concurrency 8]

The manifest is written from the four sample dossiers' sources (``source.md``): each dossier is
one of them with its paragraphs in another order, a numbered first line and a few sentences
dropped, so that no two dossiers share every passage. All ``--dossiers`` are written (and the
manifest checked, as ``assessor batch`` does); the first ``--run`` of them are then assessed by
each engine into a new run folder, against a stub OpenAI-compatible server on 127.0.0.1 that
answers every criterion after ``--latency`` seconds (the fake-latency model), with
``--concurrency`` model calls at most in flight.

For each engine the table gives the wall time, dossiers and model calls per second, tokens, the
peak memory of this process and of all the processes it started (Ray's included, sampled every
0.2 s from /proc), and the time the whole manifest would take at that pace on this machine. The
cost model for N machines is in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from assessor.batch import BatchOptions, load_manifest, run_batch  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.settings import LLMSettings, Settings  # noqa: E402
from stub_llm import Reply, StubLLMServer  # noqa: E402
from test_batch import stub_answer  # noqa: E402

SAMPLES = [
    ("omnicanal-b1", "dev-commercial-omnicanal", "B1"),
    ("activites-b1", "developpement-commercial-activites", "B1"),
    ("grands-comptes-b1", "grands-comptes", "B1"),
    ("manager-b2", "manager-developpement-commercial", "B2"),
]


def write_manifest(folder: Path, count: int) -> Path:
    """``count`` dossiers, each a varied copy of a sample's source, and their manifest."""
    rng = random.Random(14)
    sources = {
        name: (ROOT / "sample_dossiers" / name / "source.md").read_text(encoding="utf-8") for name, *_ in SAMPLES
    }
    files = folder / "dossiers"
    files.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in range(count):
        name, referential, block = SAMPLES[n % len(SAMPLES)]
        head, *paragraphs = sources[name].split("\n\n")
        body = [p for p in paragraphs if rng.random() > 0.1]  # a few paragraphs dropped
        middle = body[1:-1]
        rng.shuffle(middle)
        text = "\n\n".join([f"Dossier synthétique n° {n}", head, *body[:1], *middle, *body[-1:]])
        path = files / f"{n:05d}-{name}.md"
        path.write_text(text, encoding="utf-8")
        rows.append({"files": f"dossiers/{path.name}", "referential": referential, "blocks": block})
    manifest = folder / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["files", "referential", "blocks"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def head(manifest: Path, count: int) -> Path:
    """The manifest's first ``count`` dossiers, beside it."""
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    path = manifest.with_name(f"manifest-{count}.csv")
    path.write_text("".join(lines[: count + 1]), encoding="utf-8")
    return path


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class MemorySampler(threading.Thread):
    """The peak total RSS of this process and every process it started, sampled every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _rss_mb(_descendants(os.getpid())))
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=10_000, help="dossiers in the synthetic manifest")
    parser.add_argument("--run", type=int, default=60, help="dossiers actually assessed by each engine")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per model call")
    parser.add_argument("--concurrency", type=int, default=8, help="model calls in flight at most")
    parser.add_argument("--engines", default="local,ray")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="assessor-scale-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        manifest = write_manifest(folder, args.dossiers)
        library = Library.from_settings(Settings())
        load_manifest(manifest, library)  # the whole manifest is read and checked, as the CLI does
        written = time.perf_counter() - started
        subset = load_manifest(head(manifest, args.run), library)
        with StubLLMServer(default=Reply.responder(stub_answer(args.latency))) as server:
            llm = LLMSettings(model="compatible:stub-model", base_url=server.base_url, concurrency=args.concurrency)
            for engine in args.engines.split(","):
                sampler = MemorySampler()
                sampler.start()
                begin = time.perf_counter()
                summary = run_batch(
                    subset,
                    folder / f"run-{engine}",
                    Settings(data_dir=folder / f"data-{engine}"),
                    BatchOptions(llm=llm, engine=engine),
                )
                seconds = time.perf_counter() - begin
                sampler.done.set()
                sampler.join()
                assert summary.done == args.run and not summary.failed, summary.failed
                rows.append((engine, summary, seconds, sampler.peak))
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nManifest of {args.dossiers} synthetic dossiers written and checked in {written:.1f} s; "
        f"{args.run} assessed per engine; model: stub on 127.0.0.1, {args.latency} s a call, "
        f"{args.concurrency} calls at most in flight; {os.cpu_count()} cores.\n"
    )
    print(
        "| engine | wall (s) | dossiers/s | model calls/s | calls | tokens in / out | peak RSS, all processes (MB) "
        f"| {args.dossiers} dossiers at this pace |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for engine, summary, seconds, peak in rows:
        rate = summary.done / seconds
        whole = args.dossiers / rate
        print(
            f"| {engine} | {seconds:.1f} | {rate:.2f} | {summary.model_calls / seconds:.1f} | {summary.model_calls} "
            f"| {summary.input_tokens} / {summary.output_tokens} | {peak:.0f} | {whole / 3600:.1f} h |"
        )
    print(f"\nPeak RSS of this process alone: {self_peak:.0f} MB.")


if __name__ == "__main__":
    main()
