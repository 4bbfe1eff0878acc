"""The longest and most branching functions of the package, before and after (issue 16).

    python benchmarks/complexity.py [--before OLD_SRC] [--top 12]

Length is the number of lines of a function, nested functions included (``end_lineno - lineno
+ 1``); complexity is McCabe's cyclomatic complexity as ruff computes it (rule C901, with the
threshold at 0 so that every function is reported). With ``--before`` (the ``src`` folder of an
older checkout, e.g. a ``git worktree`` of an earlier commit), the functions named in issue 16
and the top of each list are shown side by side.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The functions issue 16 names, by file and name (the app's build function, the PDF export,
# assess_dossier, assess_with_model, the review grid import).
NAMED = [
    ("webapp/app.py", "build"),
    ("review/exports.py", "_pdf"),
    ("pipeline.py", "assess_dossier"),
    ("assessment.py", "assess_with_model"),
    ("evaluation/datasets.py", "import_review_grid"),
]


@dataclass(frozen=True)
class Function:
    file: str
    name: str
    line: int
    length: int
    complexity: int


def functions(src: Path) -> list[Function]:
    """Every function of the ``assessor`` package under ``src``, with its length and complexity."""
    package = src / "assessor"
    lengths: dict[tuple[str, int], tuple[str, int]] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lengths[(relative, node.lineno)] = (node.name, node.end_lineno - node.lineno + 1)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    every_function = ["--select", "C901", "--config", "lint.mccabe.max-complexity=0"]
    done = subprocess.run(
        [ruff, "check", "--isolated", *every_function, "--output-format", "json", "--exit-zero", str(package)],
        capture_output=True,
        text=True,
        check=True,
    )
    complexity: dict[tuple[str, int], int] = {}
    for item in json.loads(done.stdout):
        found = re.search(r"\((\d+) > 0\)", item["message"])
        if found:
            relative = Path(item["filename"]).resolve().relative_to(package.resolve()).as_posix()
            complexity[(relative, item["location"]["row"])] = int(found.group(1))
    return [
        Function(file, name, line, length, complexity.get((file, line), 1))
        for (file, line), (name, length) in lengths.items()
    ]


def table(title: str, rows: list[Function]) -> None:
    print(f"\n{title}\n")
    print("| function | lines | complexity |")
    print("|---|---:|---:|")
    for f in rows:
        print(f"| `{f.file}:{f.name}` | {f.length} | {f.complexity} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder to measure (default: this one)")
    parser.add_argument("--before", type=Path, help="the src folder of an older checkout, to compare")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    now = functions(args.src)
    if args.before is not None:
        before = functions(args.before)

        def find(found: list[Function], file: str, name: str) -> Function | None:
            matches = [f for f in found if f.file == file and f.name == name]
            return max(matches, key=lambda f: f.length) if matches else None

        print("\nThe functions issue 16 names, before and after\n")
        print("| function | lines before | lines after | complexity before | complexity after |")
        print("|---|---:|---:|---:|---:|")
        for file, name in NAMED:
            old, new = find(before, file, name), find(now, file, name)
            cells = [
                str(x) if x is not None else "—"
                for x in (old and old.length, new and new.length, old and old.complexity, new and new.complexity)
            ]
            print(f"| `{file}:{name}` | " + " | ".join(cells) + " |")
        summary = [("before", before), ("after", now)]
        print("\n| tree | functions | over 100 lines | complexity over 15 | longest | most complex |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, found in summary:
            print(
                f"| {label} | {len(found)} | {sum(f.length > 100 for f in found)} | "
                f"{sum(f.complexity > 15 for f in found)} | {max(f.length for f in found)} | "
                f"{max(f.complexity for f in found)} |"
            )
    table(f"The {args.top} longest functions now", sorted(now, key=lambda f: -f.length)[: args.top])
    table(f"The {args.top} most complex functions now", sorted(now, key=lambda f: -f.complexity)[: args.top])


if __name__ == "__main__":
    main()
