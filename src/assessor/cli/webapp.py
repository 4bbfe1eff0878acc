"""``assessor app``: the jury's review app in the browser."""

from __future__ import annotations

from typing import Annotated

import typer

from assessor.cli.common import ReferentialsOption, fail, settings, use_referentials


def app_command(
    host: Annotated[
        str | None, typer.Option(help="Adresse d'écoute (défaut 127.0.0.1 : cette machine seulement).")
    ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (défaut 7860).")] = None,
    root_path: Annotated[
        str | None, typer.Option("--root-path", help="Préfixe d'URL derrière un proxy inverse, par exemple /assessor.")
    ] = None,
    referentials: ReferentialsOption = None,
) -> None:
    """Lance l'espace du jury (Gradio) : pré-lecture, revue critère par critère, décisions, signature, exports.

    Les comptes viennent du fichier des utilisateurs (« assessor users add »). Sans clé ni réseau, la
    pré-lecture utilise le repérage sans IA ; un modèle se choisit par « fournisseur:modèle ».
    """
    from assessor.review.domain import ReviewError
    from assessor.settings import AppSettings
    from assessor.webapp import serve  # gradio is slow to import: only for this command

    use_referentials(referentials)
    current = settings()
    updates = {k: v for k, v in {"host": host, "port": port, "root_path": root_path}.items() if v is not None}
    if updates:
        merged = AppSettings.model_validate({**current.app.model_dump(), **updates})
        current = current.model_copy(update={"app": merged})
    try:
        serve(current)
    except ReviewError as error:  # no account, or a database that cannot be opened
        fail(str(error))
    except OSError as error:
        fail(f"impossible d'écouter sur {current.app.host}:{current.app.port} : {error.strerror or error}")
