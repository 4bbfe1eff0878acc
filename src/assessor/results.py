"""What an assessment produces, per criterion and per dossier: the contract of every report.

Outcome codes: the référentiel's verdict levels (by default ``acquis``,
``partiellement_acquis``, ``non_acquis``), the two non-verdicts (``preuves_insuffisantes``,
``non_evaluable_ecrit``), and ``a_examiner``, the evidence-only assessor's "evidence to
examine", which is never a judgement. A positive outcome is only ever shown with at least
one verified citation; every citation says whether it was verified.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from assessor.wording import counted

EVIDENCE_TO_EXAMINE = "a_examiner"
"""The evidence-only outcome: passages were found, a person must read them. Not a verdict."""


class Mode(StrEnum):
    """Who the pre-assessment is for."""

    JURY = "jury"  # neutral pre-assessment for the jury's eyes
    TRAINER = "trainer"  # formative feedback: what is missing and how to improve it
    CANDIDATE = "candidate"  # self-check: coverage and advice, without grades


MODE_LABELS: dict[Mode, str] = {
    Mode.JURY: "pré-lecture pour le jury",
    Mode.TRAINER: "retour formatif du formateur",
    Mode.CANDIDATE: "auto-vérification du candidat",
}
"""Each mode as people read it, in every screen and document (the codes stay in JSON)."""


class Flag(StrEnum):
    """Something a reviewer must see about a criterion's result."""

    EVIDENCE_ONLY = "sans_ia"  # produced by the evidence-only assessor: not an AI judgement
    UNVERIFIED_CITATION = "citation_non_verifiee"
    POSITIVE_WITHOUT_EVIDENCE = "verdict_positif_sans_preuve"
    NOT_ASSESSABLE_IN_WRITING = "non_evaluable_ecrit"
    SUSPECTED_INJECTION = "injection_suspectee"
    OCR_PAGE = "page_ocr"
    MODEL_ERROR = "erreur_modele"
    WEAK_SIGNAL = "signal_faible"  # evidence-only: too little of the criterion's terms to tell
    OFF_REFERENTIAL = "dossier_hors_referentiel"  # the dossier does not address the chosen blocks


FLAG_LABELS: dict[Flag, str] = {
    Flag.EVIDENCE_ONLY: "Repérage automatique des passages, sans jugement d'IA",
    Flag.UNVERIFIED_CITATION: "Citation non retrouvée dans le dossier",
    Flag.POSITIVE_WITHOUT_EVIDENCE: (
        "Verdict positif proposé sans citation vérifiée : ramené à « preuves insuffisantes »"
    ),
    Flag.NOT_ASSESSABLE_IN_WRITING: "Modalité orale ou mise en situation : non évaluable sur pièces écrites",
    Flag.SUSPECTED_INJECTION: "Le dossier contient un texte qui tente de donner des consignes à l'outil",
    Flag.OCR_PAGE: "Passage lu par OCR sur une page scannée : vérifier la lecture",
    Flag.MODEL_ERROR: "Le modèle n'a pas produit de réponse exploitable",
    Flag.OFF_REFERENTIAL: "Le dossier ne semble pas traiter le référentiel choisi",
    Flag.WEAK_SIGNAL: "Signal faible : passages à lire avant de conclure, le repérage ne peut pas trancher",
}
"""What each alert means, for people: the codes stay in JSON, every screen and document shows these."""

EVIDENCE_ONLY_LABEL = "repérage sans IA"
"""The evidence-only assessor, as people see it (its code is ``evidence-only``)."""

FLAG_SHORT_LABELS: dict[Flag, str] = {
    Flag.EVIDENCE_ONLY: "sans IA",
    Flag.UNVERIFIED_CITATION: "citation non vérifiée",
    Flag.POSITIVE_WITHOUT_EVIDENCE: "verdict positif sans preuve",
    Flag.NOT_ASSESSABLE_IN_WRITING: "non évaluable à l’écrit",
    Flag.SUSPECTED_INJECTION: "injection suspectée",
    Flag.OCR_PAGE: "page lue par OCR",
    Flag.MODEL_ERROR: "erreur du modèle",
    Flag.WEAK_SIGNAL: "signal faible",
    Flag.OFF_REFERENTIAL: "dossier hors référentiel",
}
"""The same alerts in a few words, for table cells (the grids, the command line's summary)."""


class Status(StrEnum):
    PROPOSED = "proposed"  # a proposal, to be accepted or overridden by the jury
    NEEDS_REVIEW = "needs_review"  # something failed or is doubtful: a person must look first
    NOT_ASSESSED = "not_assessed"  # no proposal (oral modality, no evidence to show)


STATUS_LABELS: dict[Status, str] = {
    Status.PROPOSED: "proposition",
    Status.NEEDS_REVIEW: "à revoir",
    Status.NOT_ASSESSED: "non évalué",
}


def percent(value: float) -> str:
    """French typography: « 36 % »."""
    return f"{value * 100:.0f} %"


class Citation(BaseModel):
    """A verbatim quote from a retrieved passage, and whether it was found there."""

    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    file: str
    page: int | None = Field(description="Page (section for a DOCX) where the passage starts.")
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
