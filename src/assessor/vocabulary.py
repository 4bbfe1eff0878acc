"""Names the product shows: each value a user chooses or reads, with its French label.

Only the standard library is imported here, so that a command's options and help can use these
names without importing the pipeline (issue 14: commands start fast).
"""

from __future__ import annotations

from enum import StrEnum


class RetrievalMode(StrEnum):
    AUTO = "auto"  # fused when the index has a dense model, lexical otherwise
    LEXICAL = "lexical"
    DENSE = "dense"
    FUSED = "fused"


RETRIEVAL_MODE_LABELS: dict[RetrievalMode, str] = {
    RetrievalMode.AUTO: "recherche automatique",
    RetrievalMode.LEXICAL: "recherche lexicale",
    RetrievalMode.DENSE: "recherche sémantique",
    RetrievalMode.FUSED: "recherche lexicale et sémantique",
}
"""How a person reads the mode (« Recherche lexical » was a slip)."""


class GridFormat(StrEnum):
    """Formats of a référentiel's evaluation grid (``assessor referentials grid``)."""

    JSON = "json"
    CSV = "csv"
    MD = "md"


__all__ = ["RETRIEVAL_MODE_LABELS", "GridFormat", "RetrievalMode"]
