"""Importing référentiels: open data and référentiel documents → a draft in the project's format.

The flow, one module a stage:

* ``opendata``: the France Compétences XML export (or its zip), streamed fiche by fiche;
* ``split``: a fiche's free-text lists cut into items, codes apart;
* ``pdf_layouts`` and ``text_layouts``: criteria printed in référentiel documents (RC tables,
  REAC sheets, block / competency / modality / criteria grids);
* ``merge``: the open data gives blocks, codes and modalities; documents add their criteria;
* ``draft``: the draft référentiel, ``draft: true``, provenance everywhere, written atomically.

``import_sources`` runs them in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assessor.importer.draft import build, render_yaml
from assessor.importer.merge import merge
from assessor.importer.opendata import find_fiche, iter_fiches
from assessor.importer.reading import ImportFailure, Reading, Unread
from assessor.referential import Referential

__all__ = ["Draft", "ImportFailure", "draft_of", "import_sources", "iter_fiches", "read_source"]

XML_SUFFIXES = (".xml", ".zip")


@dataclass
class Draft:
    """A draft référentiel, what it was read from, and what could not be read."""

    referential: Referential
    readings: list[Reading]
    unread: list[Unread] = field(default_factory=list)

    def yaml(self) -> str:
        return render_yaml(self.referential, self.unread)


def read_source(path: Path, *, rncp: str | None = None, ocr: bool = False) -> Reading:
    """One source read: an open-data fiche (``rncp`` required), a référentiel PDF, or its text."""
    if not path.is_file():
        raise ImportFailure(f"{path} : fichier introuvable.")
    if path.suffix.lower() in XML_SUFFIXES:
        if rncp is None:
            raise ImportFailure(
                f"{path.name} : précisez la fiche à importer avec --rncp RNCPnnnnn, "
                "ou --all pour importer toutes les fiches dans un dossier."
            )
        return find_fiche(path, rncp)
    from assessor.importer.documents import read_document  # PDF reading is loaded only when needed

    return read_document(path, ocr=ocr)


def draft_of(readings: list[Reading], *, ref_id: str | None = None) -> Draft:
    """Combine readings (open data first) into one draft."""
    merged, unread = merge(readings)
    files = list(dict.fromkeys(r.file for r in readings))
    ref = build(merged, unread, ref_id=ref_id, files=files)
    return Draft(ref, readings, unread)


def import_sources(
    sources: list[Path], *, rncp: str | None = None, ref_id: str | None = None, ocr: bool = False
) -> Draft:
    """Read every source and combine them into one draft; ``ImportFailure`` says why not."""
    return draft_of([read_source(path, rncp=rncp, ocr=ocr) for path in sources], ref_id=ref_id)
