"""What one source yields before it becomes a draft: blocks, competencies, modalities, criteria,
each with where it was read, and what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from assessor.errors import AssessorError
from assessor.referential import OpenDataText, Provenance


class SourceKind(StrEnum):
    """The layouts the importer reads."""

    OPEN_DATA = "fiche XML (données ouvertes)"
    RC = "RC PDF (titre professionnel)"
    REAC = "REAC PDF (titre professionnel)"
    GRID = "grille bloc / compétence / modalité / critères"


class ImportFailure(AssessorError):
    """A source that cannot be imported; the message is French and says what to do."""

    code = "import-impossible"


@dataclass
class ReadCriterion:
    text: str
    provenance: Provenance
    heading: str | None = None


@dataclass
class ReadCompetency:
    statement: str
    provenance: Provenance
    code: str | None = None
    modality_codes: list[str] = field(default_factory=list)
    criteria: list[ReadCriterion] = field(default_factory=list)
    # A grid may print one list of criteria for several competencies (« En relation avec les
    # compétences C.1.1 » for C.1.1a and C.1.1b): the first holds the criteria, under that key.
    criteria_key: str | None = None
    shared_with: list[ReadCompetency] = field(default_factory=list)


@dataclass
class ReadModality:
    text: str
    provenance: Provenance
    competency_codes: list[str] = field(default_factory=list)


@dataclass
class ReadBlock:
    title: str
    provenance: Provenance
    code: str | None = None
    description: str | None = None
    competencies: list[ReadCompetency] = field(default_factory=list)
    modalities: list[ReadModality] = field(default_factory=list)
    open_data: OpenDataText | None = None


@dataclass
class Unread:
    """A part of a source that was seen but could not be read as a référentiel element."""

    provenance: Provenance
    what: str

    def __str__(self) -> str:
        return f"{self.provenance} : {self.what}"


@dataclass
class Reading:
    """Everything read from one source."""

    file: str
    kind: SourceKind
    blocks: list[ReadBlock] = field(default_factory=list)
    title: str | None = None
    rncp: str | None = None
    certifier: str | None = None
    version: str | None = None
    unread: list[Unread] = field(default_factory=list)

    @property
    def competencies(self) -> list[ReadCompetency]:
        return [c for b in self.blocks for c in b.competencies]

    @property
    def criteria_count(self) -> int:
        return sum(len(c.criteria) for c in self.competencies)
