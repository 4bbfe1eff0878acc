"""Default values that a command's help states, kept apart from the settings models so that showing
the help does not import pydantic (issue 14). ``assessor.settings`` uses the same constants."""

from __future__ import annotations

MAX_PAGES = 1000
"""Largest PDF accepted, in pages (a dossier with its annexes rarely passes 300)."""

__all__ = ["MAX_PAGES"]
