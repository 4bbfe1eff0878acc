"""The jury's review: what the machine proposed, what people decided, and who signed.

These types are the contract between the review database (``assessor.review.store``), the
exports (``assessor.review.exports``) and the web app (``assessor.webapp``). A review wraps
one immutable machine ``Report``; people add decisions on top, never edit the proposal. What is
persisted beyond the database (decisions, the audit anchor, the exported grid's format) is
defined with the report's contract, in ``assessor.results``.

Decision codes are ASCII (they go into CSV and JSON); labels are French (``*_LABELS``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assessor.errors import AssessorError
from assessor.results import (
    CSV_COLUMNS as CSV_COLUMNS,
    AuditAnchor as AuditAnchor,
    BlockDecision as BlockDecision,
    CriterionDecision as CriterionDecision,
    Report,
)
from assessor.vocabulary import (
    AUDIT_ACTION_LABELS as AUDIT_ACTION_LABELS,
    BLOCK_VERDICT_LABELS as BLOCK_VERDICT_LABELS,
    CRITERION_ACTION_AUDIT as CRITERION_ACTION_AUDIT,
    CRITERION_ACTION_LABELS as CRITERION_ACTION_LABELS,
    REVIEW_STATUS_LABELS as REVIEW_STATUS_LABELS,
    ROLE_LABELS as ROLE_LABELS,
    BlockVerdict as BlockVerdict,
    CriterionAction as CriterionAction,
    ReviewStatus as ReviewStatus,
    Role as Role,
)


class User(BaseModel):
    """An account from the users file (``assessor.review.auth``); the password hash never leaves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    display_name: str
    role: Role
    candidates: list[str] = Field(default_factory=list, description="For a trainer: usernames of their candidates.")


class ReviewSummary(BaseModel):
    """One line of the list of review sessions."""

    model_config = ConfigDict(extra="forbid")

    id: str
    candidate: str = Field(description="Candidate's name or reference as typed by the jury.")
    candidate_username: str | None = Field(default=None, description="The candidate's account, if they have one.")
    referential_id: str
    referential_title: str
    blocks: list[str]
    mode: str
    model: str
    status: ReviewStatus
    revision: int = Field(ge=1, description="1 for the first review; a new revision after signing adds one.")
    parent_id: str | None = Field(default=None, description="The signed review this revision replaces.")
    created_by: str
    created_at: datetime
    updated_at: datetime
    signed_by: str | None = None
    signed_by_name: str | None = Field(default=None, description="Full name of the signer, as shown on exports.")
    signed_at: datetime | None = None
    assigned_jury: list[str] = Field(default_factory=list, description="Jury usernames allowed besides the creator.")


class ReviewState(BaseModel):
    """A review as read from the database, with the version to send back on every change
    (optimistic locking: a change made against an older version is refused)."""

    model_config = ConfigDict(extra="forbid")

    summary: ReviewSummary
    version: int = Field(ge=1)
    report: Report
    decisions: dict[str, CriterionDecision] = Field(default_factory=dict, description="By criterion id.")
    block_decisions: dict[str, BlockDecision] = Field(default_factory=dict, description="By block code.")

    @property
    def read_only(self) -> bool:
        return self.summary.status is not ReviewStatus.IN_REVIEW

    def final_outcome(self, criterion_id: str) -> str | None:
        """What a person decided for this criterion, or None when nobody has."""
        decision = self.decisions.get(criterion_id)
        return decision.outcome if decision and decision.action else None


class AuditEntry(BaseModel):
    """One line of the append-only audit log."""

    model_config = ConfigDict(extra="forbid")

    id: int
    at: datetime
    actor: str = Field(description="Username, or 'machine:<model>' for an automated proposal.")
    action: str
    review_id: str | None = None
    criterion_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    entry_hash: str = Field(
        description="HMAC-SHA256, with the audit key, over the previous entry's hash and this entry: a chain "
        "nobody without the key can recompute (plain SHA-256 for entries written before the key existed)."
    )
    key_id: str | None = Field(default=None, description="Fingerprint of the key that sealed the entry; None: legacy.")


class ReviewError(AssessorError):
    """A foreseeable refusal, with a French message for the user."""

    code = "revue-refusee"


class NotFound(ReviewError):
    code = "introuvable"


class PermissionDenied(ReviewError):
    code = "permission-refusee"


class ReadOnlyReview(ReviewError):
    code = "revue-signee"


class InvalidDecision(ReviewError):
    code = "decision-invalide"


class ConflictError(ReviewError):
    """Someone saved this review since it was loaded: ``current`` is the state now."""

    code = "conflit"

    def __init__(self, message: str, current: ReviewState) -> None:
        super().__init__(message)
        self.current = current
