"""Where the dossiers live in the data folder, read with the standard library only.

A command checks that a dossier exists before it imports the pipeline (chunking, the index,
the readers): ``assessor search -d inconnu`` answers at once (issue 14). ``DossierStore`` uses
the same paths and the same refusal.
"""

from __future__ import annotations

import re
from pathlib import Path

from assessor.errors import AssessorError

DOSSIER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MANIFEST = "manifest.json"


class DossierError(AssessorError):
    """A dossier operation that cannot be done; the message (French) says why and what to do."""

    code = "dossier-impossible"


def dossiers_folder(data_dir: Path) -> Path:
    return data_dir / "dossiers"


def manifest_path(data_dir: Path, dossier_id: str) -> Path:
    return dossiers_folder(data_dir) / dossier_id / MANIFEST


def dossier_ids(data_dir: Path) -> list[str]:
    """The ingested dossiers, by id (a folder with a manifest), sorted."""
    folder = dossiers_folder(data_dir)
    if not folder.is_dir():
        return []
    return sorted(path.parent.name for path in folder.glob(f"*/{MANIFEST}"))


def require_dossier(data_dir: Path, dossier_id: str) -> Path:
    """The manifest of an ingested dossier; ``DossierError`` naming the known ones otherwise."""
    path = manifest_path(data_dir, dossier_id)
    if not DOSSIER_ID.match(dossier_id) or not path.is_file():
        known = ", ".join(dossier_ids(data_dir)) or "aucun"
        raise DossierError(f"dossier « {dossier_id} » introuvable (dossiers : {known}).")
    return path


__all__ = [
    "DOSSIER_ID",
    "MANIFEST",
    "DossierError",
    "dossier_ids",
    "dossiers_folder",
    "manifest_path",
    "require_dossier",
]
