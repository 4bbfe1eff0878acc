"""``assessor batch``: every dossier of a manifest, into a resumable run folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from assessor.cli.common import console, err_console, fail, new_progress, settings
from assessor.results import Mode
from assessor.wording import counted


class Engine(StrEnum):
    LOCAL = "local"
    RAY = "ray"


if TYPE_CHECKING:  # the batch runner brings the whole pipeline: imported when the command runs
    from rich.progress import Progress, TaskID

    from assessor.batch import BatchSummary


class _Bars:
    """The overall progress: dossiers, criteria, and a status line (Batch API rounds)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._dossiers: TaskID = progress.add_task("dossiers", total=None)
        self._criteria: TaskID = progress.add_task("critères", total=None)
        self._status: TaskID | None = None

    def dossiers(self, done: int, total: int) -> None:
        self._progress.update(self._dossiers, completed=done, total=total)

    def criteria(self, done: int, total: int) -> None:
        self._progress.update(self._criteria, completed=done, total=total)

    def status(self, message: str) -> None:
        if self._status is None:
            self._status = self._progress.add_task(message, total=None)
        else:
            self._progress.update(self._status, description=message)


@contextmanager
def _bars() -> Iterator[_Bars]:
    with new_progress() as progress:
        yield _Bars(progress)


def _print_summary(summary: BatchSummary) -> None:
    from rich.table import Table

    from assessor.results import STATUS_LABELS, Status

    table = Table(title=f"Lancement — {summary.run_dir}", show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right")
    table.add_row("Dossiers du manifeste", str(summary.total))
    table.add_row("Évalués", f"{summary.done} (dont {summary.assessed_now} cette fois)")
    table.add_row("En échec", str(len(summary.failed)))
    table.add_row("Restant à évaluer", str(summary.pending))
    table.add_row("Appels au modèle", str(summary.model_calls))
    table.add_row("Jetons (entrée / sortie)", f"{summary.input_tokens} / {summary.output_tokens}")
    table.add_row("Coût estimé", f"{summary.cost_eur:.4f} €")
    table.add_row("Durée de cette session", f"{summary.seconds:.1f} s")
    for status in Status:
        table.add_row(f"Critères : {STATUS_LABELS[status]}", str(summary.statuses.get(status.value, 0)))
    if summary.openai_batches:
        table.add_row("Lots de l'API Batch", escape(", ".join(summary.openai_batches)))
    console.print(table)
    if summary.failed:
        failed = Table(title="Dossiers en échec")
        failed.add_column("Ligne", justify="right")
        failed.add_column("Dossier")
        failed.add_column("Raison")
        for item in summary.failed:
            failed.add_row(str(item.line), escape(item.dossier_key), escape(item.error))
        console.print(failed)
    console.print(f"Résultats : {escape(str(summary.run_dir / 'results.jsonl'))} (et run.sqlite, run.json)")


def batch(
    manifest: Annotated[
        Path,
        typer.Argument(
            metavar="MANIFESTE",
            help="Manifeste CSV ou JSONL : colonnes files (séparés par |), referential, blocks (séparés par | ou ,), "
            "candidate_id et dossier_key facultatifs ; chemins relatifs au manifeste.",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Dossier du lancement (résultats, état). Relancer avec le même dossier reprend là où il s'est arrêté.",
        ),
    ],
    llm: Annotated[
        str | None,
        typer.Option(
            help="baseline (repérage des passages sans modèle) ou fournisseur:modèle (openai:…, mistral:…, "
            "compatible:… avec --llm-base-url…). Défaut : ASSESSOR_LLM__MODEL, sinon baseline."
        ),
    ] = None,
    llm_base_url: Annotated[str | None, typer.Option(help="Adresse d'un serveur compatible OpenAI ou Ollama.")] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Appels au modèle en parallèle, pour tout le lancement.")
    ] = None,
    rpm: Annotated[
        float | None,
        typer.Option("--rpm", min=0.1, help="Au plus N appels au modèle par minute, pour tout le lancement."),
    ] = None,
    mode: Annotated[
        Mode, typer.Option(help="jury (pré-lecture neutre), trainer (retour formatif) ou candidate (sans note).")
    ] = Mode.JURY,
    openai_batch: Annotated[
        bool,
        typer.Option(
            "--openai-batch",
            help="Passer par l'API Batch d'OpenAI (moitié prix, réponses sous 24 h) : préparation, envoi, attente, "
            "vérification des citations ; la commande peut être arrêtée et relancée à tout moment.",
        ),
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Avec --openai-batch : secondes entre deux consultations du lot.")
    ] = 30.0,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="À la reprise, évaluer de nouveau les dossiers en échec.")
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            help="local (par défaut : cette machine, des fils d'exécution) ou ray (chaque dossier une tâche Ray, "
            "sur cette machine ou un cluster ; pip install 'assessor[ray]'). Les résultats et la reprise sont "
            "les mêmes."
        ),
    ] = Engine.LOCAL,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Avec --engine ray : le cluster (ray://hôte:10001, ou auto pour celui de « ray start » sur cette "
            "machine) ; sans elle, une instance Ray est démarrée pour ce lancement.",
        ),
    ] = None,
    local_only: Annotated[
        bool, typer.Option("--local-only", help="Refuser tout modèle hors de cette machine.")
    ] = False,
    assess_oral: Annotated[
        bool,
        typer.Option("--assess-oral", help="Soumettre aussi au modèle les critères oraux ou de mise en situation."),
    ] = False,
) -> None:
    """Évalue tous les dossiers d'un manifeste, avec un nombre borné d'appels au modèle en parallèle. Interrompu
    (même brutalement), le lancement reprend avec la même commande : chaque dossier est évalué une seule fois.
    Résultats : RUN/results.jsonl, RUN/run.sqlite (état de chaque dossier) et RUN/run.json (réglages).
    Un dossier illisible ou sans réponse du modèle est noté en échec sans arrêter le lancement ; le code de
    sortie est alors 1."""
    from assessor.batch import BatchError, BatchOptions, ManifestError, load_manifest, run_batch
    from assessor.library import Library
    from assessor.llm import make_chat_model
    from assessor.settings import BASELINE

    current = settings()
    llm_settings = current.llm.overridden(
        model=llm,
        base_url=llm_base_url,
        concurrency=concurrency,
        requests_per_minute=rpm,
        local_only=local_only or None,  # a flag left off keeps the configured value
        assess_oral=assess_oral or None,
    )
    library = Library.from_settings(current)
    try:
        loaded = load_manifest(manifest, library)
    except ManifestError as exc:
        for problem in exc.problems:
            where = f"{manifest}:{problem.line}" if problem.line else str(manifest)
            err_console.print(f"[red]erreur[/] {escape(where)}", soft_wrap=True)
            err_console.print(f"    {escape(problem.message)}")
        fail(
            f"le manifeste {manifest} contient {counted(len(exc.problems), 'problème')} ; corrigez-le. "
            "Rien n'a été écrit."
        )
    if llm_settings.model != BASELINE:
        make_chat_model(llm_settings)  # a missing key or a bad name fails before any work
    options = BatchOptions(
        llm=llm_settings,
        mode=mode,
        openai_batch=openai_batch,
        poll_interval_s=poll_interval,
        retry_failed=retry_failed,
        engine=engine.value,
        ray_address=address,
    )
    try:
        with _bars() as bars:
            summary = run_batch(loaded, output, current, options, progress=bars, library=library)
    except BatchError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print(
            "[bold yellow]Interrompu.[/] Les dossiers terminés sont enregistrés ; relancez la même commande "
            "pour reprendre."
        )
        os._exit(130)  # model calls in flight in worker threads: do not wait for them
    _print_summary(summary)
    if summary.failed:
        fail(
            f"{counted(len(summary.failed), 'dossier')} en échec (raisons ci-dessus) : corrigez la cause si "
            "besoin, puis relancez la même commande avec --retry-failed pour les évaluer de nouveau."
        )


def main() -> None:
    """``assessor batch`` alone (``python -c "from assessor.cli.batch import main; main()" MANIFEST -o RUN``)."""
    from assessor.cli.french import french_typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(batch)
    french_typer(app)()
