"""The root of every foreseeable failure.

An ``AssessorError`` is a failure the user can act on: a missing dossier, a malformed setting, a
référentiel that does not validate, a model server that does not answer. Its message is French,
written for the person at the keyboard, and its ``code`` is stable (``dossier-introuvable``), for
scripts and logs. The command line and the app turn one into a message, once, where they
meet the user; anything else that escapes is a bug, shown with a trace id.
"""

from __future__ import annotations


class AssessorError(Exception):
    """A foreseeable failure: ``str(error)`` is the French message, ``code`` a stable name for it."""

    code: str = "erreur"


class SettingsError(AssessorError, ValueError):
    """A setting read from the environment or a ``.env`` file cannot be used."""

    code = "reglage-invalide"


class UnknownName(AssessorError, LookupError):
    """A name (block, criterion, référentiel…) that is not there; the message says which ones are."""

    code = "nom-inconnu"


__all__ = ["AssessorError", "SettingsError", "UnknownName"]
