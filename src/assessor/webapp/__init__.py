"""The jury's review app (Gradio). Import ``serve`` only: gradio is loaded on demand."""

from __future__ import annotations

import os
from typing import Any

from assessor.review.domain import ReviewError
from assessor.settings import Settings


def serve(settings: Settings, *, prevent_thread_lock: bool = False) -> Any:
    """Start the app. Uploads land in the data folder; Gradio's telemetry is off.

    Raises ``ReviewError`` (a French message) when there is no account to log in with, or the
    review database cannot be opened.
    """
    if not settings.resolved_users_file.exists():
        raise ReviewError(
            f"aucun compte : le fichier {settings.resolved_users_file} n'existe pas. Créez un premier compte avec "
            '« assessor users add NOM --role jury --name "Prénom Nom" ».'
        )
    # Both are read by gradio when it is imported, so they are set first.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_TEMP_DIR", str((settings.data_dir / "uploads").resolve()))
    from assessor.webapp.app import launch

    return launch(settings, prevent_thread_lock=prevent_thread_lock)
