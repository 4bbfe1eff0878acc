"""The jury's review app (Gradio). Import ``serve`` only: gradio is loaded on demand."""

from __future__ import annotations

import os
from typing import Any

from assessor.review.domain import ReviewError
from assessor.settings import Settings


def serve(settings: Settings, *, prevent_thread_lock: bool = False) -> Any:
    """Start the app. Uploads land in the data folder; Gradio's telemetry is off.

    With no account yet, on this machine only (loopback), it prints a one-time link to create the
    first administrator in the browser (``webapp.setup``); on another address it refuses to start
    without an account. Raises ``ReviewError`` (a French message) then, or when the review database
    cannot be opened.
    """
    from assessor.webapp.setup import LOOPBACK

    first_run = not settings.resolved_users_file.exists()
    if first_run and settings.app.host not in LOOPBACK:
        raise ReviewError(
            f"aucun compte : le fichier {settings.resolved_users_file} n'existe pas. Créez un premier compte avec "
            '« assessor users add NOM --role admin --name "Prénom Nom" », ou lancez l\'application sur 127.0.0.1 '
            "pour le créer dans le navigateur par un lien à usage unique."
        )
    # Both are read by gradio when it is imported, so they are set first.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_TEMP_DIR", str((settings.data_dir / "uploads").resolve()))
    from assessor.webapp.app import launch

    return launch(settings, prevent_thread_lock=prevent_thread_lock, first_run=first_run)
