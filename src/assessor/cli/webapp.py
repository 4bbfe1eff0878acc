"""``assessor app``: the jury's review app in the browser."""

from __future__ import annotations

from typing import Annotated

import typer

from assessor.cli.common import err_console, fail, settings
from assessor.settings import AppSettings


def app_command(
    host: Annotated[
        str | None, typer.Option(help="Adresse d'écoute (défaut 127.0.0.1 : cette machine seulement).")
    ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (défaut 7860).")] = None,
    root_path: Annotated[
        str | None, typer.Option("--root-path", help="Préfixe d'URL derrière un proxy inverse, par exemple /assessor.")
    ] = None,
) -> None:
    """Lance l'espace du jury (Gradio) : pré-lecture, revue critère par critère, décisions, signature, exports.

    Les comptes viennent du fichier des utilisateurs (« assessor users add »). Sans clé ni réseau, la
    pré-lecture utilise le repérage sans IA ; un modèle se choisit par « fournisseur:modèle ».
    """
    from assessor.webapp import serve  # gradio is slow to import: only for this command

    current = settings()
    updates = {k: v for k, v in {"host": host, "port": port, "root_path": root_path}.items() if v is not None}
    if updates:
        merged = AppSettings.model_validate({**current.app.model_dump(), **updates})
        current = current.model_copy(update={"app": merged})
    try:
        from assessor.webapp.app import AppError
    except ImportError as error:  # pragma: no cover - gradio is a dependency
        fail(f"l'application a besoin de gradio : {error}")
    if not current.resolved_users_file.exists():
        fail(
            f"aucun compte : le fichier {current.resolved_users_file} n'existe pas. Créez un premier compte avec "
            '« assessor users add NOM --role jury --name "Prénom Nom" ».'
        )
    try:
        err_console.print(f"Espace du jury : http://{current.app.host}:{current.app.port}{current.app.root_path}/")
        serve(current)
    except AppError as error:
        fail(str(error))
    except OSError as error:
        fail(f"impossible d'écouter sur {current.app.host}:{current.app.port} : {error.strerror or error}")
