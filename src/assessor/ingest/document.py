"""What a loader returns: a file's normalised text, page by page, with what could not be read."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FileKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    MARKDOWN = "markdown"
    TEXT = "text"


class SetAside(BaseModel):
    """Text of a page kept out of the passages: a running header, a table of contents… (``ingest.furniture``)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="What it is: en_tete, pied_de_page, sommaire, page_de_garde, texte_du_modele…")
    text: str


class PageHeading(BaseModel):
    """A heading line of a page and its level (1 the highest), as the layout found it (``ingest.furniture``)."""

    model_config = ConfigDict(extra="forbid")

    text: str
    level: int = Field(ge=1)


class Page(BaseModel):
    """One page of a PDF, one form-feed page of a text file, or one section of a DOCX.

    ``text`` is normalised (see ``ingest.normalize``); chunk offsets point into it.
    """

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, description="1-based page number (section number for DOCX).")
    label: str = Field(description="How a citation names it: « page 3 » or « section 2 — Analyse ».")
    text: str
    ocr: bool = Field(default=False, description="The text comes from OCR of a scanned page.")
    set_aside: list[SetAside] = Field(
        default_factory=list, description="Furniture and boilerplate removed from the text, kept for display."
    )
    headings: list[PageHeading] = Field(
        default_factory=list, description="Heading lines of an official template (PDF), with their levels."
    )


class LoadedFile(BaseModel):
    """A candidate's file, read and normalised, ready to be chunked."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="File name as given by the user (no directory).")
    sha256: str
    kind: FileKind
    size_bytes: int
    pages: list[Page]
    paged: bool = Field(description="True when page numbers are real pages (PDF, text with form feeds).")
    unreadable_pages: list[int] = Field(
        default_factory=list, description="Pages without a text layer that OCR did not (or could not) read."
    )
    ocr_pages: list[int] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="French messages for the user.")
