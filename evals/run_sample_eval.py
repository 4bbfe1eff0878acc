"""Evaluate the evidence-only baseline and a fake model on the four sample dossiers, and compare them.

    python evals/run_sample_eval.py [--out DIR]

1. ingests the dossiers listed by ``evals/datasets/sample_dossiers.yaml`` into a temporary data folder;
2. assesses them twice: with the evidence-only assessor (``baseline``) and with a fake model,
   deterministic and not tuned to the labels, which answers « acquis » quoting the first six
   words of the first passage it is given (``tests/fakes.quoting_first_passage``): the
   pipeline still sends it no oral criterion and no criterion without passages;
3. writes two run folders in the batch runner's format (``run.json``, ``results.jsonl``) under
   ``DIR`` (default: a folder in the system's temporary directory);
4. evaluates both against the labels, compares the fake model (B) with the baseline (A) with
   bootstrap confidence intervals, prints the tables and writes the reports
   (``DIR/<run>/evaluation/evaluation.{md,html}``, plots, ``metrics.json``).

The same evaluation from the command line, once the run folders exist:

    assessor eval run DIR/fake-model --labels evals/datasets/sample_dossiers.yaml --compare DIR/baseline
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from assessor.dossiers import DossierStore  # noqa: E402
from assessor.evaluation.compare import compare  # noqa: E402
from assessor.evaluation.datasets import Dataset, load_dataset  # noqa: E402
from assessor.evaluation.metrics import evaluate  # noqa: E402
from assessor.evaluation.report import console_tables, write_reports  # noqa: E402
from assessor.evaluation.runs import load_run  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.llm import ModelSpec  # noqa: E402
from assessor.pipeline import assess_dossier  # noqa: E402
from assessor.prompts import PromptLibrary  # noqa: E402
from assessor.settings import (  # noqa: E402
    LLMSettings,
    Settings,
)
from fakes import FunctionChatModel, quoting_first_passage  # noqa: E402

MANIFEST = ROOT / "evals" / "datasets" / "sample_dossiers.yaml"
FAKE = ModelSpec("fake", "acquis-premier-passage", remote=False)


def write_run(folder: Path, store: DossierStore, dataset: Dataset, name: str, *, fake: bool, library: Library) -> Path:
    """Assess every dossier of the dataset and write the run folder (run.json, results.jsonl)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    lines = []
    llm = LLMSettings()
    prompts = PromptLibrary() if fake else None
    for entry in dataset.entries:
        assert entry.referential and entry.block
        chat = (FunctionChatModel(script=quoting_first_passage("acquis")), FAKE) if fake else None
        start = time.perf_counter()
        report = assess_dossier(
            store,
            entry.dossier,
            library.get(entry.referential),
            blocks=[entry.block],
            llm=llm,
            chat_model=chat,
            prompts=prompts,
        )
        seconds = time.perf_counter() - start
        line: dict[str, Any] = {
            "dossier_key": entry.dossier,
            "candidate_id": None,
            "files": [str(p.relative_to(ROOT)) for p in dataset.dossier_files[entry.dossier]],
            "report": report.model_dump(mode="json"),
            "seconds": round(seconds, 3),
        }
        lines.append(json.dumps(line, ensure_ascii=False))
    run_info = {
        "name": name,
        "model": FAKE.id if fake else "evidence-only",
        "prompt_version": prompts.version if prompts else None,
        "settings": llm.model_dump(mode="json"),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": str(MANIFEST.relative_to(ROOT)),
    }
    (folder / "run.json").write_text(json.dumps(run_info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "assessor-sample-eval")
    args = parser.parse_args()
    out: Path = args.out
    begin = time.perf_counter()
    dataset = load_dataset(MANIFEST)
    library = Library.from_settings(Settings())
    with tempfile.TemporaryDirectory(prefix="assessor-sample-eval-") as tmp:
        store = DossierStore(Settings(data_dir=Path(tmp)))
        for entry in dataset.entries:
            store.ingest(entry.dossier, dataset.dossier_files[entry.dossier])
        baseline = write_run(out / "baseline", store, dataset, "baseline", fake=False, library=library)
        fake = write_run(out / "fake-model", store, dataset, "fake-model", fake=True, library=library)
    a = evaluate(load_run(baseline), dataset)
    b = evaluate(load_run(fake), dataset)
    comparison = compare(a, b)
    write_reports(baseline / "evaluation", a)
    write_reports(fake / "evaluation", b, reference=a, comparison=comparison)
    print(f"Dataset: {dataset.name} ({len(dataset.entries)} dossiers, {len(b.items)} labelled criteria)")
    print(f"A = {a.run_name} ({a.model}), B = {b.run_name} ({b.model})\n")
    print(console_tables(b, reference=a, comparison=comparison))
    for e in (a, b):
        for warning in e.warnings:
            print(f"warning ({e.run_name}): {warning}")
    print(f"Run folders and reports: {baseline}, {fake} ({time.perf_counter() - begin:.1f} s)")
    print(f"Same from the CLI: assessor eval run {fake} --labels {MANIFEST.relative_to(ROOT)} --compare {baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
