"""The jury's review app (Gradio). Import ``serve`` only: gradio is loaded on demand."""

from __future__ import annotations

import os
from typing import Any

from assessor.settings import Settings


def serve(settings: Settings, *, prevent_thread_lock: bool = False) -> Any:
    """Start the app. Uploads land in the data folder; Gradio's telemetry is off."""
    # Both are read by gradio when it is imported, so they are set first.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_TEMP_DIR", str((settings.data_dir / "uploads").resolve()))
    from assessor.webapp.app import launch

    return launch(settings, prevent_thread_lock=prevent_thread_lock)
