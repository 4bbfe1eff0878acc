"""Default values that a command's help states, kept apart from the settings models so that showing
the help does not import pydantic (issue 14). ``assessor.settings`` uses the same constants."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path("assessor-data")
"""The data folder when neither --data-dir nor ASSESSOR_DATA_DIR names one (relative to the working folder)."""

MAX_PAGES = 1000
"""Largest PDF accepted, in pages (a dossier with its annexes rarely passes 300)."""

__all__ = ["DATA_DIR", "MAX_PAGES"]
