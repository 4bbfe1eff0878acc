"""Start-up time of the command line and of the review app, as a new user meets them.

    python benchmarks/startup.py [--runs 5] [--no-app] [--no-search]

Each command runs ``--runs`` times in a fresh process (the ``assessor`` console script next
to this Python, with a temporary data folder), after one untimed run that writes the bytecode
caches, as an installed package has them (``PYTHONDONTWRITEBYTECODE`` is unset for the runs);
the table gives the median wall time and its ratio to a bare ``python -c "import typer, rich"``,
the floor of any typer command.

What is measured:

- a one-option typer app, run: what typer itself costs once a command runs (it coerces values
  through pydantic), for comparison;
- ``assessor --help``, ``assessor referentials list`` (as a user meets it from the second run on:
  the listing of each file is cached by its size and modification time, see
  ``assessor.catalogue``), the same first run with nothing cached (every file read and validated,
  for information), ``assessor search --help``;
- ``assessor search -d absent « texte »``: the search command up to its first real work: it
  parses its options, reads the data folder's setting and looks the dossier up, which is
  refused (no such dossier); a dossier that exists then has the whole settings read and
  validated, and the index opened, counted in the next row;
- ``assessor search -d bench « texte »`` on the ingested sample dossier (lexical): the whole
  search, index client included, for information (no goal);
- the review app (``assessor app``): from the process start to the first page served
  (HTTP 200 on ``/``, polled every 0.02 s); beside it, a bare ``python -c "import gradio"`` timed
  just before each app run, the part of the first page no Gradio app can avoid.

Goals (issue 14): the first four within 3 × the bare import, the app's first page within 5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import free_port, serving  # noqa: E402

SAMPLE = ROOT / "sample_dossiers" / "omnicanal-b1" / "dossier.pdf"
QUERY = "négociation avec un client grand compte"
# The least any typer command costs once it runs: typer coerces option values through pydantic.
ONE_OPTION_APP = (
    "import typer\napp = typer.Typer()\n@app.command()\ndef main(flag: bool = False) -> None:\n    pass\napp()"
)


def assessor_command() -> list[str]:
    """The console script installed next to this interpreter, else the same entry point through -c."""
    script = shutil.which("assessor", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-c", "from assessor.cli import main; main()"]


def timed(command: Sequence[str], env: dict[str, str], runs: int, *, ok: Sequence[int] = (0,)) -> float:
    """Median wall time of ``runs`` runs of ``command``; its exit code must be one of ``ok``."""
    subprocess.run(list(command), env=env, capture_output=True, check=False, cwd=ROOT)  # bytecode caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(list(command), env=env, capture_output=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return statistics.median(times)


def once(command: Sequence[str], env: dict[str, str]) -> float:
    """Wall time of one run, without the warm-up run of ``timed`` (which would fill the caches)."""
    start = time.perf_counter()
    done = subprocess.run(list(command), env=env, capture_output=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def app_first_page(env: dict[str, str], data_dir: Path, runs: int) -> tuple[float, float]:
    """Median time from ``assessor app`` starting to its first page served, and the median of a bare
    ``import gradio`` timed just before each run (the floor of any Gradio app on this machine at
    that moment: on a shared machine it drifts by a second or more within the hour)."""
    bare = [sys.executable, "-c", "import gradio"]
    subprocess.run(bare, env=env, capture_output=True, check=True)  # bytecode caches
    times, floors = [], []
    for _ in range(runs):
        floors.append(once(bare, env))
        port = free_port()
        command = [*assessor_command(), "app", "--port", str(port)]
        start = time.perf_counter()
        with serving(command, url=f"http://127.0.0.1:{port}/", log=data_dir / "app.log", env=env, cwd=ROOT, poll=0.02):
            times.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(floors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-app", action="store_true", help="skip the review app")
    parser.add_argument("--no-search", action="store_true", help="skip the search on an ingested dossier")
    args = parser.parse_args()

    assessor = assessor_command()
    with tempfile.TemporaryDirectory(prefix="assessor-startup-") as tmp:
        data_dir = Path(tmp)
        env = {**os.environ, "ASSESSOR_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("ASSESSOR_EMBEDDING__MODEL", None)  # lexical search: no model to load
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        floor = timed([sys.executable, "-c", "import typer, rich"], env, args.runs)
        rows: list[tuple[str, float, str]] = [('python -c "import typer, rich"', floor, "")]
        one_option = timed([sys.executable, "-c", ONE_OPTION_APP, "--flag"], env, args.runs)
        rows.append(("a one-option typer app, run (for comparison)", one_option, ""))
        rows.append(("assessor --help", timed([*assessor, "--help"], env, args.runs), "≤ 3×"))
        env["XDG_CACHE_HOME"] = str(data_dir / "cache")  # the list of référentiels: cached by the untimed run
        rows.append(("assessor referentials list", timed([*assessor, "referentials", "list"], env, args.runs), "≤ 3×"))
        cold = [
            once([*assessor, "referentials", "list"], {**env, "XDG_CACHE_HOME": str(data_dir / f"cold-{run}")})
            for run in range(args.runs)
        ]  # each run in a fresh cache folder: every file read and validated
        rows.append(("assessor referentials list, first run (nothing cached)", statistics.median(cold), ""))
        rows.append(("assessor search --help", timed([*assessor, "search", "--help"], env, args.runs), "≤ 3×"))
        refused = timed([*assessor, "search", "-d", "absent", QUERY], env, args.runs, ok=(1,))
        rows.append(("assessor search -d absent … (start, refused)", refused, "≤ 3×"))
        if not args.no_search:
            subprocess.run([*assessor, "ingest", str(SAMPLE), "-d", "bench"], env=env, check=True, capture_output=True)
            whole = timed([*assessor, "search", "-d", "bench", QUERY], env, args.runs)
            rows.append(("assessor search -d bench … (whole search)", whole, ""))
        if not args.no_app:
            subprocess.run(
                [*assessor, "users", "add", "bench", "--role", "jury", "--name", "Banc", "--password-stdin"],
                input=b"mot-de-passe-du-banc\n",
                env=env,
                check=True,
                capture_output=True,
            )
            first_page, gradio_floor = app_first_page(env, data_dir, args.runs)
            rows.append(('python -c "import gradio" (timed beside each app run)', gradio_floor, ""))
            rows.append(("assessor app: first page served", first_page, "≤ 5 s"))

    print(f"\nMedian of {args.runs} runs, {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} cores.\n")
    print("| command | median (s) | ratio to typer+rich | goal |")
    print("|---|---:|---:|---|")
    for command, seconds, goal in rows:
        print(f"| `{command}` | {seconds:.2f} | {seconds / floor:.1f}× | {goal} |")


if __name__ == "__main__":
    main()
