"""Command line: thin commands over importable functions.

Exit codes: 0 success, 1 the input is wrong (invalid file, unknown id; the message says
what to do), 2 the command line is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assessor import __version__
from assessor.cli.common import console, library, overrides, user_errors
from assessor.cli.dossiers import dossiers_app, ingest, search
from assessor.cli.referentials import grid_table, referential_schema, referential_tree, referentials_app

DEMO_REFERENTIAL = "dev-commercial-omnicanal"
DEMO_BLOCK = "B1"

app = typer.Typer(
    name="assessor",
    help="Assessor pré-lit les dossiers de certification (RNCP) critère par critère, avec des citations "
    "vérifiées. Le jury décide, jamais l'outil.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(referentials_app, name="referentials")
app.add_typer(dossiers_app, name="dossiers")
app.command("ingest")(ingest)
app.command("search")(search)


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
) -> None:
    """Assessor: pre-assessment of certification dossiers for French juries."""
    overrides.clear()
    if data_dir is not None:
        overrides["data_dir"] = data_dir


@app.command()
def demo(
    ref_id: Annotated[
        str, typer.Option("--referential", "-r", help="Référentiel à montrer.")
    ] = DEMO_REFERENTIAL,
    block: Annotated[str, typer.Option("--block", "-b", help="Bloc à montrer.")] = DEMO_BLOCK,
) -> None:
    """La démonstration sans clé ni réseau : un référentiel et sa grille d'évaluation."""
    with user_errors():
        ref = library().get(ref_id)
        console.print(referential_tree(ref, block))
        console.print(grid_table(ref, block))
        console.print(
            f"Exporter cette grille : [bold]assessor referentials export {ref.id} --block {block} "
            "--format csv -o grille.csv[/] (ou --format json, md). Autres référentiels : "
            "[bold]assessor referentials list[/]."
        )


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main", "referential_schema"]
