"""Batch benchmark: 50 dossiers, a fake model with a fixed 1 s latency, concurrency 16.

    python benchmarks/batch.py

The 50 dossiers are Markdown copies of the four sample dossiers' sources (``source.md``), each
with a different first line, so that no two dossiers share a passage (and no model result is
taken from the cache). Every dossier is assessed on block B1 of ``plan-action-commerciale``:
its 9 criteria are all written, so each dossier makes about 9 model calls, about 450 in all,
and the run takes about half a minute. The fake model sleeps exactly 1 s per call, then
quotes its first passage.

Two runs, each into a new run folder with an empty result cache:

1. cold: the batch ingests the 50 files itself (reading, chunking, indexing);
2. ingested: the same dossiers, already in the data folder (ingestion is then a no-op).

Ideal wall time = ceil(model calls / 16) x 1 s; the target is a ratio of at most 1.3. The
peak RSS is the process's (``resource.getrusage``), so the second row includes the first.
"""

from __future__ import annotations

import math
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from langchain_core.messages import BaseMessage  # noqa: E402

from assessor.batch import BatchOptions, load_manifest, read_results, run_batch  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.llm import ModelSpec  # noqa: E402
from assessor.results import Report  # noqa: E402
from assessor.settings import (  # noqa: E402
    LLMSettings,
    Settings,
)
from fakes import FunctionChatModel, Reply, quoting_first_passage  # noqa: E402

DOSSIERS = 50
CONCURRENCY = 16
LATENCY_S = 1.0
REFERENTIAL, BLOCK = "plan-action-commerciale", "B1"
SAMPLES = ["omnicanal-b1", "activites-b1", "grands-comptes-b1", "manager-b2"]
SPEC = ModelSpec("fake", "latence-1s", remote=False)


class SlowModel:
    """The fake model's script: 1 s per call, and the most calls in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.answer = quoting_first_passage("partiellement_acquis")

    def __call__(self, messages: list[BaseMessage], number: int) -> Reply:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(LATENCY_S)
        with self.lock:
            self.in_flight -= 1
        return self.answer(messages, number)


def manifest(folder: Path) -> Path:
    lines = ["files,referential,blocks,candidate_id"]
    for n in range(DOSSIERS):
        sample = SAMPLES[n % len(SAMPLES)]
        text = (ROOT / "sample_dossiers" / sample / "source.md").read_text(encoding="utf-8")
        target = folder / "dossiers" / f"{n:02d}-{sample}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"Dossier de benchmark n° {n}\n\n{text}", encoding="utf-8")
        lines.append(f"dossiers/{target.name},{REFERENTIAL},{BLOCK},candidat-{n:02d}")
    path = folder / "manifest.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def one_run(label: str, manifest_path: Path, settings: Settings, run_dir: Path) -> str:
    shutil.rmtree(settings.data_dir / "cache", ignore_errors=True)
    script = SlowModel()
    model = FunctionChatModel(script=script)
    loaded = load_manifest(manifest_path, Library.from_settings(settings))
    started = time.perf_counter()
    summary = run_batch(
        loaded, run_dir, settings, BatchOptions(llm=LLMSettings(concurrency=CONCURRENCY)), chat_model=(model, SPEC)
    )
    wall = time.perf_counter() - started
    assert summary.done == DOSSIERS and not summary.failed, summary
    results = read_results(run_dir)
    assert len(results) == DOSSIERS
    calls = sum(Report.model_validate(r["report"]).usage.model_calls for r in results)
    assert calls == model.calls
    ideal = math.ceil(calls / CONCURRENCY) * LATENCY_S
    return (
        f"| {label} | {DOSSIERS} | {calls} | {script.peak} | {ideal:.0f} | {wall:.1f} | {wall / ideal:.2f} | "
        f"{peak_rss_mb():.0f} |"
    )


def main() -> int:
    print(f"Batch: {DOSSIERS} dossiers x {REFERENTIAL} {BLOCK}, fake model with a fixed {LATENCY_S:.0f} s latency, "
          f"concurrency {CONCURRENCY}")  # fmt: skip
    print()
    print("| run | dossiers | model calls | most calls at once | ideal s | wall s | ratio | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory(prefix="assessor-bench-batch-") as tmp:
        folder = Path(tmp)
        manifest_path = manifest(folder)
        settings = Settings(data_dir=folder / "data")
        print(one_run("cold (ingestion included)", manifest_path, settings, folder / "run-cold"), flush=True)
        print(one_run("already ingested", manifest_path, settings, folder / "run-warm"), flush=True)
    print()
    print("ideal = ceil(model calls / concurrency) x latency; target: ratio <= 1.3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
