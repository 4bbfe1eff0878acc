"""Detection and false-alarm rates of the injection detector on a labelled set (issue 15, point 4).

    python evals/injection_rates.py [--set evals/injection_set.yaml] [--misses]

Each sentence of the set becomes one passage, given to ``assessor.injection.suspected_injections``
(the code on ``sys.path``: run with ``PYTHONPATH=/path/to/other/src`` to measure another version).
The detection rate is the share of injections flagged; the false-alarm rate the share of innocent
look-alikes flagged. ``--misses`` lists what was missed or wrongly flagged.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import yaml

from assessor.chunking import Chunk
from assessor.injection import suspected_injections

HERE = Path(__file__).resolve().parent


def passage(number: int, text: str) -> Chunk:
    return Chunk(
        id=f"set-{number}",
        file="dossier.pdf",
        file_sha256="ab" * 32,
        page_start=1,
        page_end=1,
        paged=True,
        locator="page 1",
        char_start=0,
        char_end=len(text),
        heading_path=[],
        text=text,
        ocr=False,
    )


def flagged(number: int, text: str) -> bool:
    return bool(suspected_injections([passage(number, text)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=HERE / "injection_set.yaml")
    parser.add_argument("--misses", action="store_true", help="list the missed injections and the false alarms")
    args = parser.parse_args()
    data = yaml.safe_load(args.set.read_text(encoding="utf-8"))
    injections: list[dict[str, str]] = data["injections"]
    innocent: list[str] = data["innocent"]
    found = [flagged(i, item["text"]) for i, item in enumerate(injections)]
    alarms = [flagged(i, text) for i, text in enumerate(innocent)]
    total = Counter(item["kind"] for item in injections)
    hits = Counter(item["kind"] for item, hit in zip(injections, found, strict=True) if hit)
    print("| disguise | injections | detected |")
    print("|---|---:|---:|")
    for kind in total:
        print(f"| {kind} | {total[kind]} | {hits[kind]} |")
    print(
        f"\ndetection: {sum(found)}/{len(found)} ({sum(found) / len(found):.0%}); "
        f"false alarms: {sum(alarms)}/{len(alarms)} ({sum(alarms) / len(alarms):.0%})"
    )
    if args.misses:
        for item, hit in zip(injections, found, strict=True):
            if not hit:
                print(f"missed [{item['kind']}]: {item['text']!r}")
        for text, alarm in zip(innocent, alarms, strict=True):
            if alarm:
                print(f"false alarm: {text!r}")


if __name__ == "__main__":
    main()
