"""Command line: thin commands over importable functions.

Exit codes: 0 success, 1 the input is wrong (invalid file, unknown id; the message says
what to do), 2 the command line is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assessor import __version__
from assessor.cli.assess import assess, demo, report_schema
from assessor.cli.batch import batch
from assessor.cli.common import ReferentialsOption, overrides, use_referentials
from assessor.cli.dossiers import dossiers_app, ingest, search
from assessor.cli.evaluate import eval_app
from assessor.cli.referentials import referential_schema, referentials_app
from assessor.cli.review import review_app
from assessor.cli.users import users_app
from assessor.cli.webapp import app_command

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
app.add_typer(users_app, name="users")
app.add_typer(review_app, name="review")
app.add_typer(eval_app, name="eval")
app.command("ingest")(ingest)
app.command("search")(search)
app.command("assess")(assess)
app.command("demo")(demo)
app.command("report-schema")(report_schema)
app.command("app")(app_command)
app.command("batch")(batch)


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
) -> None:
    """Assessor: pre-assessment of certification dossiers for French juries."""
    overrides.clear()
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    use_referentials(referentials)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main", "referential_schema"]
