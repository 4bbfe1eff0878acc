"""Command line: thin commands over importable functions.

Exit codes: 0 success, 1 the input is wrong (invalid file, unknown id; the message says
what to do), 2 the command line is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer

from assessor import __version__
from assessor.cli.common import ReferentialsOption, handled_errors, overrides, use_referentials
from assessor.cli.lazy import Lazy, LazyGroup


class _Assessor(LazyGroup):
    """The commands, in the order of a jury's work; each module is imported when its command runs.
    Every command's failures are explained here, once (``handled_errors``)."""

    def invoke(self, ctx: Any) -> Any:
        with handled_errors():
            return super().invoke(ctx)

    lazy: ClassVar[Mapping[str, Lazy]] = {
        "referentials": Lazy(
            "assessor.cli.referentials:referentials_app",
            "Consulter, valider et exporter les référentiels (blocs, compétences, critères).",
        ),
        "ingest": Lazy(
            "assessor.cli.dossiers:ingest",
            "Ajoute les fichiers d'un candidat à un dossier : lecture, découpage, index.",
        ),
        "dossiers": Lazy("assessor.cli.dossiers:dossiers_app", "Lister, afficher et supprimer les dossiers ingérés."),
        "search": Lazy(
            "assessor.cli.dossiers:search",
            "Cherche dans un dossier les passages qui répondent à un critère ou un texte.",
        ),
        "assess": Lazy(
            "assessor.cli.assess:assess", "Pré-lit un dossier critère par critère et écrit un rapport (-o FICHIER)."
        ),
        "batch": Lazy(
            "assessor.cli.batch:batch", "Pré-lit tous les dossiers d'un manifeste ; un lancement interrompu reprend."
        ),
        "demo": Lazy("assessor.cli.assess:demo", "La démonstration sans clé, sans serveur, sans réseau."),
        "report-schema": Lazy("assessor.cli.assess:report_schema", "Écrit le schéma JSON des rapports."),
        "app": Lazy("assessor.cli.webapp:app_command", "Lance l'espace du jury dans le navigateur."),
        "users": Lazy("assessor.cli.users:users_app", "Gérer les comptes de l'application de revue."),
        "review": Lazy(
            "assessor.cli.review:review_app",
            "Revues du jury : importer, décider, signer, exporter la grille, vérifier le journal d'audit.",
        ),
        "eval": Lazy(
            "assessor.cli.evaluate:eval_app", "Évaluation : accord des propositions avec les décisions d'un jury."
        ),
    }


app = typer.Typer(
    name="assessor",
    cls=_Assessor,
    help="Assessor pré-lit les dossiers de certification (RNCP) critère par critère, avec des citations "
    "vérifiées. Le jury décide, jamais l'outil.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"assessor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Affiche la version.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Dossier des données (index, dossiers) ; défaut : ASSESSOR_DATA_DIR ou ./assessor-data.",
        ),
    ] = None,
    referentials: ReferentialsOption = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Journal détaillé de chaque étape sur la sortie d'erreur (JSON, sans données personnelles).",
        ),
    ] = False,
) -> None:
    """Assessor: pre-assessment of certification dossiers for French juries."""
    from assessor.logs import configure

    configure(verbose=verbose)
    overrides.clear()
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    use_referentials(referentials)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
