"""Errors a user can act on: what is wrong with which file, and what to do about it."""

from __future__ import annotations

from enum import StrEnum

from assessor.errors import AssessorError


class IngestErrorCode(StrEnum):
    NOT_FOUND = "fichier-introuvable"
    EMPTY = "fichier-vide"
    TOO_LARGE = "fichier-trop-gros"
    UNSUPPORTED = "format-non-pris-en-charge"
    EXTENSION_MISMATCH = "extension-trompeuse"
    PDF_ENCRYPTED = "pdf-protege"
    PDF_CORRUPT = "pdf-illisible"
    PDF_NO_TEXT = "pdf-sans-texte"
    TOO_MANY_PAGES = "trop-de-pages"
    DOCX_CORRUPT = "docx-illisible"
    UNKNOWN_ENCODING = "encodage-inconnu"
    LINE_TOO_LONG = "ligne-trop-longue"
    NO_TEXT = "aucun-texte"
    TOO_MUCH_TEXT = "trop-de-texte"
    ARCHIVE_BOMB = "archive-suspecte"
    PDF_BOMB = "pdf-suspect"
    TOO_SLOW = "lecture-trop-longue"
    TOO_MUCH_MEMORY = "lecture-trop-gourmande"
    READ_FAILED = "lecture-impossible"


class IngestError(AssessorError):
    """A file that cannot be ingested. ``message`` and ``hint`` are French, for the user."""

    def __init__(self, code: IngestErrorCode, file: str, message: str, hint: str) -> None:
        self.code = code
        self.file = file
        self.message = message
        self.hint = hint
        super().__init__(f"[{code}] {file} : {message} — {hint}")
