"""``assessor eval run`` and ``assessor eval import``: agreement of a run with a jury's labels.

``eval run`` reads a run (a batch run folder, a results.jsonl, a report JSON or a folder of
them), matches its reports with a labelled dataset, prints the main tables and writes the
report (Markdown with its PNG plots, self-contained HTML, metrics.json). ``eval import``
turns a jury's filled grid (the review app's CSV export) into labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from assessor.cli.common import err_console, fail, output_format, write_output
from assessor.evaluation.compare import DEFAULT_RESAMPLES, BootstrapUnit
from assessor.evaluation.metrics import DEFAULT_K
from assessor.wording import counted

eval_app = typer.Typer(
    help="Évaluation : accord des propositions de l'outil avec les décisions d'un jury sur des dossiers étiquetés.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def default_output(run: Path) -> Path:
    """Where the report goes without -o: inside a run folder, or next to a report file."""
    return run / "evaluation" if run.is_dir() else run.with_name(f"{run.stem}-evaluation")


def _warn(message: str) -> None:
    err_console.print(f"[yellow]Attention :[/] {escape(message)}")


@eval_app.command("run")
def run_command(
    run: Annotated[
        Path,
        typer.Argument(
            metavar="RUN",
            help="Run à évaluer : dossier écrit par « assessor batch » (run.json, results.jsonl), fichier "
            "results.jsonl, rapport JSON (assessor assess -o rapport.json) ou dossier de rapports JSON.",
        ),
    ],
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            "-l",
            help="Jeu d'évaluation : manifeste .yaml (ex. evals/datasets/sample_dossiers.yaml), fichier .jsonl "
            "(assessor eval import), fichier labels.json, ou dossier contenant des */labels.json.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Dossier du rapport (evaluation.md, evaluation.html, metrics.json, graphiques) ; "
            "défaut : RUN/evaluation.",
        ),
    ] = None,
    compare_with: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Autre run (référence A) à comparer à RUN (B) sur les mêmes critères, avec des intervalles de "
            "confiance par bootstrap.",
        ),
    ] = None,
    k: Annotated[
        int, typer.Option("--k", min=1, max=50, help="Nombre de citations et de passages pour le rappel@k.")
    ] = (DEFAULT_K),
    unit: Annotated[
        BootstrapUnit,
        typer.Option("--bootstrap-unit", help="Unité de rééchantillonnage de la comparaison : critere ou dossier."),
    ] = BootstrapUnit.CRITERION,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, max=100_000, help="Tirages du bootstrap.")
    ] = DEFAULT_RESAMPLES,
) -> None:
    """Mesure l'accord d'un run avec les décisions du jury : exactitude, κ, κ pondéré, accord adjacent, matrices
    de confusion, abstentions, rappel des preuves, précision des citations, coût et durée ; par bloc et par
    longueur de dossier. Écrit un rapport Markdown et HTML."""
    from assessor.evaluation.compare import compare
    from assessor.evaluation.datasets import DatasetError, load_dataset
    from assessor.evaluation.metrics import EvaluationError, evaluate
    from assessor.evaluation.report import console_tables, write_reports  # matplotlib: seconds
    from assessor.evaluation.runs import RunError, load_run

    try:
        dataset = load_dataset(labels)
        evaluation = evaluate(load_run(run), dataset, k=k)
        reference = evaluate(load_run(compare_with), dataset, k=k) if compare_with else None
        comparison = compare(reference, evaluation, unit=unit, resamples=resamples) if reference is not None else None
    except (DatasetError, RunError, EvaluationError) as exc:
        fail(str(exc))
    for e in [ev for ev in (reference, evaluation) if ev is not None]:
        for message in e.warnings:
            _warn(f"{e.run_name} : {message}")
    typer.echo(console_tables(evaluation, reference=reference, comparison=comparison))
    folder = output or default_output(run)
    written = write_reports(folder, evaluation, reference=reference, comparison=comparison)
    err_console.print(f"Rapport écrit dans {folder} : " + ", ".join(p.name for p in written))


@eval_app.command("import")
def import_command(
    grid: Annotated[
        Path,
        typer.Argument(
            metavar="GRILLE", help="Grille remplie par le jury : export CSV de l'application de revue (« ; », UTF-8)."
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Fichier d'étiquettes à écrire (.jsonl) ; défaut : écran.")
    ] = None,
    dossier_key: Annotated[
        str | None,
        typer.Option(
            "--dossier-key",
            help="Clé du dossier dans le jeu d'évaluation (défaut : le candidat de l'export) ; une seule revue.",
        ),
    ] = None,
    allow_unsigned: Annotated[
        bool,
        typer.Option("--allow-unsigned", help="Accepter une revue non signée (ses décisions peuvent encore changer)."),
    ] = False,
) -> None:
    """Transforme la grille remplie par le jury (export CSV de l'application de revue) en étiquettes pour
    « assessor eval run ». Les critères sans décision du jury sont laissés de côté."""
    output_format(output, ["jsonl"])  # one line per dossier
    from assessor.evaluation.datasets import DatasetError, dumps_jsonl, import_review_grid

    try:
        imported = import_review_grid(grid, dossier_key=dossier_key, allow_unsigned=allow_unsigned)
    except DatasetError as exc:
        fail(str(exc))
    for message in imported.warnings:
        _warn(message)
    if imported.undecided:
        _warn(
            f"{counted(imported.undecided, 'critère')} sans décision du jury, "
            f"{'laissé' if imported.undecided < 2 else 'laissés'} de côté."
        )
    write_output(dumps_jsonl(imported.entries), output)
    count = sum(len(e.criteria) for e in imported.entries)
    err_console.print(
        f"{counted(count, 'décision du jury importée', 'décisions du jury importées')} pour "
        f"{counted(len(imported.entries), 'dossier')} : " + ", ".join(escape(e.dossier) for e in imported.entries)
    )
