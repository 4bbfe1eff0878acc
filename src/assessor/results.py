"""What an assessment produces, per criterion and per dossier: the contract of every report.

The contract is versioned (``SCHEMA_VERSION``, written in every report and cached result). Read a
report or a result with ``read_report`` / ``read_criterion_result``, never with pydantic directly:
an older one is brought up to date by the explicit migrations below (``MIGRATIONS``), one version at
a time; a newer one, written by a later Assessor, is refused with a message that says so
(``ContractError``), instead of failing on an unknown field or, worse, being half read.

History: 1, reports before versioning (no ``schema_version``); 2, ``schema_version`` written, and
each citation gives the page range of its passage (``page_end``).

Outcome codes: the référentiel's verdict levels (by default ``acquis``,
``partiellement_acquis``, ``non_acquis``), the two non-verdicts (``preuves_insuffisantes``,
``non_evaluable_ecrit``), and ``a_examiner``, the evidence-only assessor's "evidence to
examine", which is never a judgement. A positive outcome is only ever shown with at least
one verified citation; every citation says whether it was verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assessor.errors import AssessorError
from assessor.vocabulary import (
    EVIDENCE_ONLY_LABEL as EVIDENCE_ONLY_LABEL,
    EVIDENCE_TO_EXAMINE as EVIDENCE_TO_EXAMINE,
    FLAG_LABELS as FLAG_LABELS,
    FLAG_SHORT_LABELS as FLAG_SHORT_LABELS,
    MODE_LABELS as MODE_LABELS,
    STATUS_LABELS as STATUS_LABELS,
    BlockVerdict,
    CriterionAction,
    Flag as Flag,
    Mode as Mode,
    Status as Status,
)
from assessor.wording import counted

SCHEMA_VERSION = 2
"""The version of the report contract this code writes (and the newest it reads)."""

REVIEW_EXPORT_FORMAT = "assessor-review-export"
REVIEW_EXPORT_VERSION = 1
"""The version of the exported review grid (JSON ``format_version``): ``review verify --against``
refuses a newer one (``read_review_export``)."""


class ContractError(AssessorError):
    """A report or a result that cannot be read: newer than this code, or not a report at all."""

    code = "contrat-illisible"


class NewerContract(ContractError):
    """Written by a later Assessor, in a version of the contract this code does not know."""

    code = "contrat-plus-recent"


def percent(value: float) -> str:
    """French typography: « 36 % »."""
    return f"{value * 100:.0f} %"


class Citation(BaseModel):
    """A verbatim quote from a retrieved passage, and whether it was found there."""

    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    file: str
    page: int | None = Field(description="Page (section for a DOCX) where the passage starts.")
    page_end: int | None = Field(
        default=None,
        description="Last page of the passage holding the quote (equal to page when it lies on one page).",
    )
    locator: str
    quote: str
    verified: bool
    verification: str = Field(description="Why the quote passed or failed verification (French).")
    ocr: bool = False
    headings: list[str] = Field(
        default_factory=list, description="Heading path of the passage (its section, activity, example…)."
    )

    @property
    def where(self) -> str:
        """« page 4 · Activité 1 › Exemple 2 »: the locator and, when known, the heading path."""
        return f"{self.locator} · {' › '.join(self.headings)}" if self.headings else self.locator


class ModelAttempt(BaseModel):
    """One call to a language model, kept whole for the audit trail."""

    model_config = ConfigDict(extra="forbid")

    raw_output: str
    errors: list[str] = Field(default_factory=list, description="Why this answer was not accepted (French).")
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0


class CriterionResult(BaseModel):
    """The pre-assessment of one criterion."""

    model_config = ConfigDict(extra="forbid")

    criterion_id: str
    criterion_text: str
    competency_level: bool = Field(
        default=False,
        description="True when no criterion is printed for this competency: the competency itself is assessed.",
    )
    block: str
    outcome: str
    rationale: str
    citations: list[Citation] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="Expected elements not found.")
    feedback: str = ""
    confidence: float | None = Field(default=None, ge=0, le=1)
    flags: list[Flag] = Field(default_factory=list)
    status: Status
    evidence_ids: list[str] = Field(default_factory=list, description="Passages given to the assessor.")
    model: str
    prompt_version: str | None = None
    attempts: int = 0
    attempt_log: list[ModelAttempt] = Field(default_factory=list, description="Every model call, for the audit.")
    input_tokens: int = 0
    output_tokens: int = 0
    cost_eur: float = 0.0
    cached: bool = False
    baseline_outcome: str | None = Field(
        default=None,
        description="In a model run, what the evidence-only assessor (the baseline) gave for this criterion.",
    )


class DossierFileRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str
    pages: int


class DossierRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    files: list[DossierFileRef]


class ReferentialRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: str
    title: str
    blocks: list[str]


class DossierFlag(BaseModel):
    """Something about the whole dossier, such as a suspected prompt injection."""

    model_config = ConfigDict(extra="forbid")

    flag: Flag
    file: str
    page: int | None
    excerpt: str
    chunk_id: str | None = Field(default=None, description="The passage holding it, when one does.")


class ReferentialFit(BaseModel):
    """How much of the chosen blocks the dossier addresses: a dossier written for another
    référentiel finds a passage for few of its criteria."""

    model_config = ConfigDict(extra="forbid")

    criteria: int = Field(ge=0, description="Criteria assessable in writing.")
    treated: int = Field(ge=0, description="Criteria for which a passage holds enough of their terms.")
    coverage: float = Field(ge=0, le=1, description="treated / criteria.")
    threshold: float = Field(ge=0, le=1, description="Coverage below which the dossier is off the référentiel.")

    @property
    def off_referential(self) -> bool:
        return self.criteria > 0 and self.coverage < self.threshold

    def alert(self) -> str:
        """The dossier-level alert, in French, with the coverage figure."""
        return (
            f"Dossier hors référentiel ? {counted(self.treated, 'critère')} sur {self.criteria} seulement "
            f"({percent(self.coverage)}) {'trouve' if self.treated < 2 else 'trouvent'} "
            "dans le dossier un passage qui en traite "
            f"(seuil d'alerte : {percent(self.threshold)}). Vérifiez que le dossier répond bien au "
            "référentiel et aux blocs choisis avant de lire les critères."
        )


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cost_eur: float = 0.0
    model_calls: int = 0


class Report(BaseModel):
    """A dossier's pre-assessment: what the machine proposed, for people to decide."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(
        default=SCHEMA_VERSION, description="Version of this contract (see assessor.results: read_report)."
    )
    dossier: DossierRef
    referential: ReferentialRef
    mode: Mode
    model: str
    evidence_only: bool = Field(description="True when no language model was used (not an AI judgement).")
    pseudonymised: bool = Field(default=False, description="Personal data was replaced before the model saw it.")
    prompt_version: str | None
    created_at: datetime
    outcome_labels: dict[str, str]
    criteria: list[CriterionResult]
    flags: list[DossierFlag] = Field(default_factory=list)
    fit: ReferentialFit | None = Field(
        default=None, description="How much of the chosen blocks the dossier addresses (dossier_hors_referentiel)."
    )
    usage: Usage = Field(default_factory=Usage)
    timings: dict[str, float] = Field(default_factory=dict)
    notice: str = Field(description="What this report is and is not, for the reader (French).")

    @property
    def model_label(self) -> str:
        """Who made the proposals, for people: the model's name, or the evidence-only reading."""
        return EVIDENCE_ONLY_LABEL if self.evidence_only else self.model


# -- reading: versions and migrations -------------------------------------------------------------


def _citations_v1_to_v2(result: dict[str, Any]) -> dict[str, Any]:
    """Version 1 citations had no page range: the passage's first page is the best known end."""
    citations = [{**c, "page_end": c.get("page_end", c.get("page"))} for c in result.get("citations", [])]
    return {**result, "citations": citations}


CRITERION_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _citations_v1_to_v2}
"""How a criterion result of version N becomes one of version N + 1."""


def _report_v1_to_v2(report: dict[str, Any]) -> dict[str, Any]:
    return {**report, "criteria": [_citations_v1_to_v2(c) for c in report.get("criteria", [])]}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _report_v1_to_v2}
"""How a report of version N becomes one of version N + 1 (each step also sets the version)."""


def _decoded(data: str | bytes | dict[str, Any], what: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        decoded = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractError(f"{what} illisible : ce n'est pas du JSON ({exc}).") from exc
    if not isinstance(decoded, dict):
        raise ContractError(f"{what} illisible : un objet JSON est attendu.")
    return decoded


def _migrated(
    data: dict[str, Any], steps: dict[int, Callable[[dict[str, Any]], dict[str, Any]]], what: str
) -> dict[str, Any]:
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise ContractError(f"{what} illisible : version de format « {version} » inconnue.")
    if version > SCHEMA_VERSION:
        raise NewerContract(
            f"{what} au format {version}, plus récent que celui de cet Assessor (format {SCHEMA_VERSION}) : "
            "il a été écrit par une version plus récente ; mettez Assessor à jour pour le lire."
        )
    while version < SCHEMA_VERSION:
        data = {**steps[version](data), "schema_version": version + 1}
        version += 1
    return data


_PROBLEMS = {
    "missing": "champ obligatoire absent",
    "extra_forbidden": "champ inconnu",
    "dict_type": "un objet est attendu",
    "model_type": "un objet est attendu",
    "list_type": "une liste est attendue",
    "string_type": "un texte est attendu",
    "int_type": "un nombre entier est attendu",
    "int_parsing": "un nombre entier est attendu",
    "float_type": "un nombre est attendu",
    "float_parsing": "un nombre est attendu",
    "bool_type": "vrai ou faux est attendu",
    "bool_parsing": "vrai ou faux est attendu",
    "datetime_type": "une date est attendue",
    "datetime_parsing": "une date est attendue",
    "datetime_from_date_parsing": "une date est attendue",
    "enum": "valeur inconnue",
    "literal_error": "valeur inconnue",
}


def _problem(exc: ValidationError) -> str:
    """The first problem, in French: where (« criteria.0.citations »), what, and how many in all."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "racine"
    return f"{where} : {_PROBLEMS.get(first['type'], first['msg'])} ({counted(exc.error_count(), 'problème')} en tout)."


def read_report(data: str | bytes | dict[str, Any]) -> Report:
    """A report from its JSON (text, bytes or decoded), migrated from an older version if need be;
    ``ContractError`` for a newer version or for what is not a report."""
    migrated = _migrated(_decoded(data, "rapport"), MIGRATIONS, "rapport")
    try:
        return Report.model_validate(migrated)
    except ValidationError as exc:
        raise ContractError(f"rapport invalide : {_problem(exc)}") from exc


def read_criterion_result(data: str | bytes | dict[str, Any]) -> CriterionResult:
    """A criterion result (as the result cache keeps it: ``{"schema_version", "result"}``, or a bare
    version 1 result), migrated like a report's criteria."""
    decoded = _decoded(data, "résultat")
    wrapped = "result" in decoded and isinstance(decoded["result"], dict)
    body = decoded["result"] if wrapped else decoded
    version = decoded.get("schema_version", 1) if wrapped else 1
    migrated = _migrated({**body, "schema_version": version}, CRITERION_MIGRATIONS, "résultat")
    migrated.pop("schema_version")
    try:
        return CriterionResult.model_validate(migrated)
    except ValidationError as exc:
        raise ContractError(f"résultat invalide : {_problem(exc)}") from exc


def dump_criterion_result(result: CriterionResult) -> str:
    """A criterion result as the result cache keeps it, with the contract's version."""
    return json.dumps({"schema_version": SCHEMA_VERSION, "result": result.model_dump(mode="json")}, ensure_ascii=False)


# -- what people decided (the review database, and the grids exported from it) ----------------


class CriterionDecision(BaseModel):
    """A person's decision on one criterion. ``outcome`` is the decided outcome code (for an
    accepted proposal, the proposal's own outcome)."""

    model_config = ConfigDict(extra="forbid")

    criterion_id: str
    action: CriterionAction | None = None
    outcome: str | None = None
    reason: str = Field(default="", description="Required when the jury overrides the proposal.")
    comment: str = ""
    decided_by: str | None = Field(default=None, description="Username.")
    decided_at: datetime | None = None


class BlockDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block: str
    verdict: BlockVerdict
    justification: str = Field(min_length=1)
    decided_by: str
    decided_at: datetime


class AuditAnchor(BaseModel):
    """What a signed export carries so that the audit log it came from can be checked later: the
    entry that sealed the signature (or, for an unsigned export, the review's newest entry), its
    hash, and how many entries the review had up to it. Deleting the tail of the log, which the
    chain alone cannot reveal, then shows."""

    model_config = ConfigDict(extra="forbid")

    review_id: str
    entry_id: int = Field(ge=1)
    entry_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    review_entries: int = Field(ge=1)
    key_id: str = ""


CSV_COLUMNS: tuple[str, ...] = (
    "review_id",
    "revision",
    "candidate",
    "referential_id",
    "referential_version",
    "block",
    "criterion_id",
    "criterion",
    "machine_model",
    "machine_outcome",
    "machine_outcome_label",
    "machine_status",
    "machine_flags",
    "verified_citations",
    "total_citations",
    "jury_action",
    "jury_outcome",
    "jury_outcome_label",
    "jury_reason",
    "jury_comment",
    "decided_by",
    "decided_at",
    "block_verdict",
    "block_justification",
    "review_status",
    "signed_by",
    "signed_by_name",
    "signed_at",
    "audit_entry_id",
    "audit_entry_hash",
    "audit_review_entries",
    "audit_key_id",
)
"""The review grid's CSV export header, in order (``review.exports`` writes it, ``evaluation`` imports it)."""


def read_review_export(data: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """An exported review grid (JSON), checked to be one, in a format version this code knows."""
    document = _decoded(data, "grille exportée")
    if document.get("format") != REVIEW_EXPORT_FORMAT:
        raise ContractError("ce fichier JSON n'est pas une grille exportée par Assessor (champ « format »).")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ContractError("grille exportée sans version de format lisible (champ « format_version »).")
    if version > REVIEW_EXPORT_VERSION:
        raise NewerContract(
            f"grille exportée au format {version}, plus récent que celui de cet Assessor (format "
            f"{REVIEW_EXPORT_VERSION}) : mettez Assessor à jour pour la lire."
        )
    return document
