"""Assessment benchmark: concurrency and prompt size.

    python benchmarks/assessment.py

1. Concurrency: a 40-criterion block (the first 40 criteria of dev-commercial-omnicanal B3)
   assessed by a fake model that answers in exactly 1 s, at concurrency 8. The ideal wall
   time is ceil(40 / 8) = 5 s; the target is within 1.25x.
2. Prompt size: the average input tokens of a criterion prompt with the evidence budget, for
   each sample dossier and a 60-page one, against the naive approach that puts the whole
   dossier in every criterion prompt (tokens estimated as characters / 4, as the fake model
   reports them).
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieval import load_samples, long_pdf  # noqa: E402

from assessor.dossiers import DossierStore  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.llm import ModelSpec  # noqa: E402
from assessor.pipeline import assess_dossier  # noqa: E402
from assessor.prompts import PromptLibrary  # noqa: E402
from assessor.referential import Referential  # noqa: E402
from assessor.settings import (  # noqa: E402
    LLMSettings,
    Settings,
)
from fakes import FunctionChatModel, quoting_first_passage  # noqa: E402

SPEC = ModelSpec("fake", "latence-1s", remote=False)


def forty_criteria(ref: Referential) -> Referential:
    """dev-commercial-omnicanal with block B3 cut to its first 40 criteria."""
    data = ref.model_dump(mode="json")
    block = next(b for b in data["blocks"] if b["code"] == "B3")
    kept = 0
    sets = []
    for crit_set in block["criteria"]:
        groups = []
        for group in crit_set["groups"]:
            take = group["criteria"][: max(0, 40 - kept)]
            kept += len(take)
            if take:
                groups.append({**group, "criteria": take})
        if groups:
            sets.append({**crit_set, "groups": groups})
    block["criteria"] = sets
    assessed = {code for s in sets for code in s["competencies"]}
    block["competencies"] = [c for c in block["competencies"] if c["code"] in assessed]
    return Referential.model_validate(data)


def concurrency_table(tmp: Path) -> list[str]:
    library = Library.from_settings(Settings())
    ref = forty_criteria(library.get("dev-commercial-omnicanal"))
    store = DossierStore(Settings(data_dir=tmp / "concurrency"))
    store.ingest("omni", [ROOT / "sample_dossiers" / "omnicanal-b1" / "dossier.pdf"])
    lines = [
        "Concurrency: 40 criteria, fake model with a fixed 1 s latency",
        "",
        "| concurrency | criteria | model calls | wall time s | ideal s | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in (8, 16):
        model = FunctionChatModel(script=quoting_first_passage("partiellement_acquis"), latency_s=1.0)
        settings = LLMSettings(concurrency=concurrency)
        _clear(store.settings.data_dir / "cache")  # a cached result would cost nothing and skew the timing
        start = time.perf_counter()
        report = assess_dossier(store, "omni", ref, blocks=["B3"], chat_model=(model, SPEC), llm=settings)
        wall = report.timings["assessment_s"]
        total = time.perf_counter() - start
        ideal = math.ceil(len(report.criteria) / concurrency) * 1.0
        lines.append(
            f"| {concurrency} | {len(report.criteria)} | {model.calls} | {wall:.2f} (total {total:.2f}) | "
            f"{ideal:.1f} | {wall / ideal:.2f} |"
        )
    return lines


def _clear(folder: Path) -> None:
    for path in folder.rglob("*.json"):
        path.unlink()


def tokens_table(tmp: Path) -> list[str]:
    library = Library.from_settings(Settings())
    lines = [
        "Prompt size per criterion (input tokens, estimated as characters / 4)",
        "",
        "| dossier | pages | criteria | budgeted prompt: mean | max | whole dossier in each prompt | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    cases: list[tuple[str, Path, str, str]] = [
        (str(s["dossier"]), Path(str(s["folder"])) / "dossier.pdf", str(s["referential"]), str(s["block"]))
        for s in load_samples()
    ]
    cases.append(("60 pages", long_pdf(tmp / "soixante.pdf", 60), "dev-commercial-omnicanal", "B1"))
    prompts = PromptLibrary()
    for name, pdf, ref_id, block in cases:
        store = DossierStore(Settings(data_dir=tmp / f"tokens-{name.replace(' ', '-')}"))
        record = store.ingest("d", [pdf]).added[0]
        ref = library.get(ref_id)
        model = FunctionChatModel(script=quoting_first_passage("non_acquis"))
        report = assess_dossier(store, "d", ref, blocks=[block], chat_model=(model, SPEC))
        sent = [r.attempt_log[0].input_tokens for r in report.criteria if r.attempt_log]
        whole = sum(len(c.text) for c in store.index.chunks("d"))
        criterion = next(c for c in ref.criteria_of(block) if c.written_assessable)
        overhead = sum(
            len(text) for _, text in prompts.criterion_messages(criterion, [], ref.scale.levels, "jury", ref.title)
        )
        naive = (overhead + whole) // 4
        mean = statistics.mean(sent)
        lines.append(
            f"| {name} | {record.pages} | {len(sent)} | {mean:.0f} | {max(sent)} | {naive} | {mean / naive:.2f} |"
        )
    return lines


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="assessor-bench-") as tmp:
        for table in (concurrency_table(Path(tmp)), tokens_table(Path(tmp))):
            print("\n".join(table), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
