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


# -- results: modes, alerts, statuses (assessor.results) ---------------------------------------

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


# -- référentiels: modalities, non-verdicts, criterion levels (assessor.referential) -----------


class ModalityKind(StrEnum):
    """How a competency is assessed. Only ``written`` productions can be read by Assessor."""

    WRITTEN = "written"
    ORAL = "oral"
    ROLE_PLAY = "role_play"
    MIXED = "mixed"


MODALITY_KIND_LABELS: dict[ModalityKind, str] = {
    ModalityKind.WRITTEN: "écrit",
    ModalityKind.ORAL: "oral",
    ModalityKind.ROLE_PLAY: "mise en situation / jeu de rôle",
    ModalityKind.MIXED: "mixte (écrit et oral)",
}


class NonVerdict(StrEnum):
    """Outcomes that are not verdicts: the tool abstains and says why."""

    INSUFFICIENT_EVIDENCE = "preuves_insuffisantes"
    NOT_ASSESSABLE_IN_WRITING = "non_evaluable_ecrit"


NON_VERDICT_LABELS: dict[NonVerdict, str] = {
    NonVerdict.INSUFFICIENT_EVIDENCE: "Preuves insuffisantes",
    NonVerdict.NOT_ASSESSABLE_IN_WRITING: "Non évaluable sur pièces écrites",
}


class CriterionLevel(StrEnum):
    """What a jury decides on: a printed criterion, or a whole competency when none is printed."""

    CRITERION = "criterion"
    COMPETENCY = "competency"


COMPETENCY_LEVEL_LABEL = "évalué au niveau de la compétence"
"""Shown beside a criterion that is a competency (no evaluation criterion printed for it)."""


# -- the jury's review: roles, statuses, decisions, audit actions (assessor.review.domain) ------


class Role(StrEnum):
    JURY = "jury"  # sees and signs the reviews they created or are assigned to
    TRAINER = "trainer"  # sees the formative (trainer-mode) reviews of their candidates
    CANDIDATE = "candidate"  # sees only their own self-check (candidate-mode) drafts
    ADMIN = "admin"  # sees everything, manages nothing more (accounts live in the users file)


ROLE_LABELS: dict[Role, str] = {
    Role.JURY: "membre du jury",
    Role.TRAINER: "formateur",
    Role.CANDIDATE: "candidat",
    Role.ADMIN: "administrateur",
}


class ReviewStatus(StrEnum):
    IN_REVIEW = "en_cours"  # open: decisions may change
    SIGNED = "signee"  # final and read-only; a change needs a new revision
    SUPERSEDED = "remplacee"  # a signed review that a newer revision replaces (still read-only)


REVIEW_STATUS_LABELS: dict[ReviewStatus, str] = {
    ReviewStatus.IN_REVIEW: "en cours",
    ReviewStatus.SIGNED: "signée",
    ReviewStatus.SUPERSEDED: "remplacée par une révision",
}


class CriterionAction(StrEnum):
    ACCEPTED = "accepte"  # the jury took the machine's proposal as its decision
    OVERRIDDEN = "modifie"  # the jury set another outcome, with a reason


CRITERION_ACTION_LABELS: dict[CriterionAction | None, str] = {
    CriterionAction.ACCEPTED: "proposition acceptée",
    CriterionAction.OVERRIDDEN: "décision modifiée par le jury",
    None: "sans décision du jury",
}


CRITERION_ACTION_AUDIT: dict[CriterionAction, str] = {
    CriterionAction.ACCEPTED: "criterion_accepted",
    CriterionAction.OVERRIDDEN: "criterion_overridden",
}


class BlockVerdict(StrEnum):
    VALIDATED = "valide"
    NOT_VALIDATED = "non_valide"


BLOCK_VERDICT_LABELS: dict[BlockVerdict, str] = {
    BlockVerdict.VALIDATED: "validé",
    BlockVerdict.NOT_VALIDATED: "non validé",
}


AUDIT_ACTION_LABELS: dict[str, str] = {
    "review_created": "revue créée",
    "revision_created": "révision créée",
    "review_superseded": "revue remplacée par une révision",
    "proposal": "proposition de la machine",
    "criterion_accepted": "proposition acceptée",
    "criterion_overridden": "décision modifiée",
    "criterion_commented": "commentaire",
    "block_remaining_accepted": "propositions restantes du bloc acceptées",
    "block_decided": "décision sur le bloc",
    "review_signed": "revue signée",
    "export": "export de la grille",
    "login": "connexion",
    "login_failed": "échec de connexion",
    "first_admin_created": "premier administrateur créé par le lien à usage unique",
    "schema_migrated": "migration de la base",
}
"""French names of the audit actions, for people (the codes stay in the log)."""


__all__ = [
    "AUDIT_ACTION_LABELS",
    "BLOCK_VERDICT_LABELS",
    "COMPETENCY_LEVEL_LABEL",
    "CRITERION_ACTION_AUDIT",
    "CRITERION_ACTION_LABELS",
    "EVIDENCE_ONLY_LABEL",
    "EVIDENCE_TO_EXAMINE",
    "FLAG_LABELS",
    "FLAG_SHORT_LABELS",
    "MODALITY_KIND_LABELS",
    "MODE_LABELS",
    "NON_VERDICT_LABELS",
    "RETRIEVAL_MODE_LABELS",
    "REVIEW_STATUS_LABELS",
    "ROLE_LABELS",
    "STATUS_LABELS",
    "BlockVerdict",
    "CriterionAction",
    "CriterionLevel",
    "Flag",
    "GridFormat",
    "ModalityKind",
    "Mode",
    "NonVerdict",
    "RetrievalMode",
    "ReviewStatus",
    "Role",
    "Status",
]
