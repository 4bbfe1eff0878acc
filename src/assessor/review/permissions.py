"""Who may do what with a review: the one set of rules that the review store enforces and the app
and the command line read to show only what a user may do.

Seeing a review (``can_see``), the changes each role may make (``CAPABILITIES``), the reviews each
role may create (``CREATABLE_MODE``, hence the pre-readings it may run), signing (``may_sign``),
deciding (``may_decide``), the files each role may upload (``UPLOAD_TYPES``), and the French
refusals. ``ReviewStore`` checks every change with ``require``; the app never re-derives a rule.
"""

from __future__ import annotations

from enum import StrEnum

from assessor.results import Report
from assessor.review.domain import PermissionDenied, ReadOnlyReview, ReviewState, ReviewSummary, User
from assessor.vocabulary import MODE_LABELS, ROLE_LABELS, Mode, ReviewStatus, Role


class Capability(StrEnum):
    """What a change needs, beyond seeing the review."""

    DECIDE = "decide"  # accept or override a criterion's proposal
    COMMENT = "comment"
    BLOCK = "block"
    SIGN = "sign"
    REVISE = "revise"


CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.JURY: frozenset(Capability),
    Role.TRAINER: frozenset({Capability.DECIDE, Capability.COMMENT}),
    Role.CANDIDATE: frozenset({Capability.COMMENT}),
    Role.ADMIN: frozenset(),
}

CREATABLE_MODE: dict[Role, Mode] = {Role.JURY: Mode.JURY, Role.TRAINER: Mode.TRAINER, Role.CANDIDATE: Mode.CANDIDATE}

_REFUSALS: dict[Capability, str] = {
    Capability.DECIDE: "Seuls le jury et le formateur peuvent décider d'un critère.",
    Capability.COMMENT: "Vous ne pouvez pas commenter cette revue.",
    Capability.BLOCK: "Seul un membre du jury peut statuer sur un bloc.",
    Capability.SIGN: "Seul un membre du jury peut signer une revue.",
    Capability.REVISE: "Seul un membre du jury peut créer une nouvelle révision.",
}

NO_ACCESS = "Vous n'avez pas accès à cette revue."
ADMIN_READ_ONLY = "Un administrateur consulte les revues mais ne les crée ni ne les modifie."
CANDIDATE_NOTES_ONLY = "Un candidat peut seulement ajouter ses notes aux critères."
SIGNED_READ_ONLY = "Cette revue est signée : créez une nouvelle révision pour la modifier."
SUPERSEDED_READ_ONLY = "Cette revue a été remplacée par une révision plus récente : modifiez cette dernière."


def can_see(user: User, summary: ReviewSummary) -> bool:
    """Who sees a review: the one rule behind ``get``, ``list_reviews`` and every change."""
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.JURY:
        return summary.created_by == user.username or user.username in summary.assigned_jury
    if user.role is Role.TRAINER:
        return summary.mode == Mode.TRAINER and (
            summary.created_by == user.username or summary.candidate_username in user.candidates
        )
    return summary.mode == Mode.CANDIDATE and summary.candidate_username == user.username


def can(user: User, summary: ReviewSummary, capability: Capability) -> bool:
    """Whether the user may make this kind of change (the review's status aside)."""
    return can_see(user, summary) and capability in CAPABILITIES[user.role]


def require(user: User, summary: ReviewSummary, capability: Capability | None) -> None:
    if not can_see(user, summary):
        raise PermissionDenied(NO_ACCESS)
    if capability is None or capability in CAPABILITIES[user.role]:
        return
    if user.role is Role.ADMIN:
        raise PermissionDenied(ADMIN_READ_ONLY)
    if user.role is Role.CANDIDATE:
        raise PermissionDenied(CANDIDATE_NOTES_ONLY)
    raise PermissionDenied(_REFUSALS[capability])


def require_open(summary: ReviewSummary) -> None:
    if summary.status is ReviewStatus.SIGNED:
        raise ReadOnlyReview(SIGNED_READ_ONLY)
    if summary.status is ReviewStatus.SUPERSEDED:
        raise ReadOnlyReview(SUPERSEDED_READ_ONLY)


def may_sign(user: User, summary: ReviewSummary) -> bool:
    """A jury member who sees a jury-mode review (a trainer's feedback or a self-check is never signed)."""
    return can(user, summary, Capability.SIGN) and summary.mode == Mode.JURY.value


def may_decide(user: User, state: ReviewState) -> bool:
    """Whether the user may decide this review's criteria now (it is open, and their role decides)."""
    return not state.read_only and can(user, state.summary, Capability.DECIDE)


def runnable_modes(role: Role) -> list[Mode]:
    """The pre-readings a role may run: the mode of the reviews it may create (none for an administrator)."""
    mode = CREATABLE_MODE.get(role)
    return [mode] if mode is not None else []


def require_may_create(user: User, report: Report) -> None:
    mode = CREATABLE_MODE.get(user.role)
    if mode is None:
        raise PermissionDenied(ADMIN_READ_ONLY)
    if report.mode is not mode:
        raise PermissionDenied(
            f"En tant que {ROLE_LABELS[user.role]}, vous ne pouvez créer que des revues en mode « "
            f"{MODE_LABELS[mode]} » (ce rapport : « {MODE_LABELS[report.mode]} »)."
        )


UPLOAD_TYPES: dict[Role, tuple[str, ...]] = {
    Role.JURY: (".pdf", ".docx", ".txt", ".md"),
    Role.TRAINER: (".pdf", ".docx", ".txt", ".md"),
    Role.CANDIDATE: (".pdf", ".docx"),  # a candidate hands in documents, not transcriptions
    Role.ADMIN: (),  # an administrator runs no pre-reading
}
"""What each role may upload: only what ingestion reads, and what that role has a use for."""


__all__ = [
    "ADMIN_READ_ONLY",
    "CAPABILITIES",
    "CREATABLE_MODE",
    "NO_ACCESS",
    "SIGNED_READ_ONLY",
    "SUPERSEDED_READ_ONLY",
    "UPLOAD_TYPES",
    "Capability",
    "can",
    "can_see",
    "may_decide",
    "may_sign",
    "require",
    "require_may_create",
    "require_open",
    "runnable_modes",
]
