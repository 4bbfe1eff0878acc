"""Hostile files (issue 15): time and peak memory of each, before and after the limits.

    python benchmarks/hostile.py [--before /path/to/old/src] [--timeout 120] [--cap-mb 4000]

Each case is generated here (tests/hostile_files.py; nothing is committed) and handed to the
code under test in its own process, as the app and the command line do: a candidate's file is
ingested into a fresh dossier by ``DossierStore.ingest``; a référentiel is checked by
``library.check_file`` (``assessor referentials validate``); a users file is read by ``UsersFile``.

With ``--before``, every case also runs against another source tree (an older checkout's
``src``), for the « before » columns. A run is stopped after ``--timeout`` seconds, or when the
resident memory of its processes passes ``--cap-mb`` (so that a bomb cannot take the machine
down): the table then shows « > » before the figure. Peak memory is the largest resident size
of the run's process tree, sampled every 50 ms, or the kernel's ``ru_maxrss`` of its processes
when that is larger.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def make_cases(folder: Path) -> dict[str, tuple[Path, str]]:
    """The file of each case and what reads it (« ingest », « referential » or « users »)."""
    import hostile_files as hf

    sample = ROOT / "sample_dossiers" / "omnicanal-b1" / "dossier.pdf"
    return {
        "for comparison: a real 15-page dossier PDF": (sample, "ingest"),
        "DOCX bomb (64 MB of XML)": (hf.docx_bomb(folder / "bombe.docx"), "ingest"),
        "DOCX with 30,000 entries": (hf.docx_many_entries(folder / "entrees.docx"), "ingest"),
        "PDF stream bomb (100 MB content)": (hf.pdf_stream_bomb(folder / "flux.pdf"), "ingest"),
        "PDF claiming 20,000 pages": (hf.pdf_many_pages(folder / "pages.pdf"), "ingest"),
        "text of 60 MB": (hf.big_text(folder / "enorme.txt"), "ingest"),
        "référentiel YAML alias bomb": (hf.yaml_alias_bomb(folder / "bombe.yaml"), "referential"),
        "users YAML alias bomb": (hf.users_alias_bomb(folder / "users.yaml"), "users"),
    }


def run_case(kind: str, path: Path, data: Path) -> str:
    """Read one case with the code on ``sys.path`` (in this process); what happened, in a few words."""
    try:
        if kind == "ingest":
            from assessor.dossiers import DossierStore
            from assessor.settings import Settings

            report = DossierStore(Settings(data_dir=data)).ingest("bench", [path])
            return f"ingested, {report.added[0].chunks} chunks"
        if kind == "referential":
            from assessor.library import check_file

            _, problems = check_file(path)
            return f"refused: {problems[0].message[:90]}" if problems else "accepted"
        from assessor.review.auth import UsersFile

        return f"read, {len(UsersFile(path).load())} accounts"
    except Exception as error:  # the outcome is what the table reports
        return f"refused: {str(error)[:90]}"


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB (0 once gone)."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            proc = Path(f"/proc/{current}")
            total += int((proc / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in (proc / "task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / 1_000_000


def measure(src: Path, kind: str, path: Path, data: Path, timeout: float, cap_mb: float) -> dict[str, object]:
    """Run one case against the code in ``src``, in a child process group; time, peak memory, outcome."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, __file__, "--run", kind, str(path), str(data)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    peak = 0.0
    stopped = ""
    while child.poll() is None:
        peak = max(peak, _tree_rss_mb(child.pid))
        if peak > cap_mb:
            stopped = "memory cap"
        elif time.perf_counter() - start > timeout:
            stopped = "timeout"
        if stopped:
            os.killpg(child.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    out, _ = child.communicate()
    seconds = time.perf_counter() - start
    peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    outcome = out.strip().splitlines()[-1] if out.strip() else f"crashed (exit {child.returncode})"
    if stopped:
        outcome = f"stopped at the {stopped}"
    return {"seconds": seconds, "peak_mb": peak, "outcome": outcome, "stopped": stopped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="src folder of the code to compare with (e.g. an old checkout)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a run is stopped")
    parser.add_argument("--cap-mb", type=float, default=4000, help="resident MB at which a run is stopped")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--after", action=argparse.BooleanOptionalAction, default=True, help="run this tree's code")
    parser.add_argument("--run", nargs=3, metavar=("KIND", "FILE", "DATA"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=4, metavar=("SRC", "KIND", "FILE", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(run_case(args.run[0], Path(args.run[1]), Path(args.run[2])))
        return
    if args.measure:  # one measure in its own process: ru_maxrss of its children is this case's alone
        src, kind, file, data = args.measure
        print(json.dumps(measure(Path(src), kind, Path(file), Path(data), args.timeout, args.cap_mb)))
        return
    codes = {"after": ROOT / "src"} if args.after else {}
    if args.before:
        codes = {"before": args.before.resolve(), **codes}
    rows: list[tuple[str, int, dict[str, dict[str, object]]]] = []
    with tempfile.TemporaryDirectory(prefix="assessor-hostile-") as tmp:
        folder = Path(tmp)
        for name, (path, kind) in make_cases(folder).items():
            if args.only and args.only not in name:
                continue
            results: dict[str, dict[str, object]] = {}
            for label, src in codes.items():
                data = folder / f"data-{len(rows)}-{label}"
                limits = ["--timeout", str(args.timeout), "--cap-mb", str(args.cap_mb)]
                child = subprocess.run(
                    [sys.executable, __file__, *limits, "--measure", str(src), kind, str(path), str(data)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[label] = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"{name}, {label}: {results[label]}", file=sys.stderr)
            rows.append((name, path.stat().st_size, results))
    columns = "".join(f" {label}: time | {label}: peak memory | {label}: outcome |" for label in codes)
    header = "| file | size |" + columns
    print(header)
    print("|---|---:|" + "---:|---:|---|" * len(codes))
    for name, size, results in rows:
        cells = ""
        for label in codes:
            r = results[label]
            over = "> " if r["stopped"] else ""
            cells += f" {over}{r['seconds']:.1f} s | {over}{r['peak_mb']:.0f} MB | {r['outcome']} |"
        print(f"| {name} | {_size(size)} |{cells}")


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"


if __name__ == "__main__":
    main()
