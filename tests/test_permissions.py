"""The rules of who may do what, in one module (``assessor.review.permissions``), read by the app too."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assessor.review.domain import ReviewStatus, ReviewSummary, Role, User
from assessor.review.permissions import Capability, can, can_see, may_sign, runnable_modes
from assessor.vocabulary import Mode

ROOT = Path(__file__).resolve().parent.parent

JURY = User(username="jmartin", display_name="Jeanne Martin", role=Role.JURY)
OTHER_JURY = User(username="pdurand", display_name="Paul Durand", role=Role.JURY)
TRAINER = User(username="fprof", display_name="Florence Prof", role=Role.TRAINER, candidates=["cand"])
CANDIDATE = User(username="cand", display_name="Camille", role=Role.CANDIDATE)
ADMIN = User(username="admin", display_name="Admin", role=Role.ADMIN)


def summary(
    mode: Mode, created_by: str, *, candidate_username: str | None = None, jury: tuple[str, ...] = ()
) -> ReviewSummary:
    now = datetime.now(UTC)
    return ReviewSummary(
        id="abcdefghijkl",
        candidate="Camille",
        candidate_username=candidate_username,
        referential_id="grands-comptes",
        referential_title="Grands comptes",
        blocks=["B1"],
        mode=mode.value,
        model="evidence-only",
        status=ReviewStatus.IN_REVIEW,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        assigned_jury=list(jury),
        revision=1,
    )


@pytest.mark.parametrize(
    ("user", "review", "sees", "decides", "signs"),
    [
        (JURY, summary(Mode.JURY, "jmartin"), True, True, True),
        (OTHER_JURY, summary(Mode.JURY, "jmartin"), False, False, False),
        (OTHER_JURY, summary(Mode.JURY, "jmartin", jury=("pdurand",)), True, True, True),
        (TRAINER, summary(Mode.TRAINER, "fprof"), True, True, False),
        (TRAINER, summary(Mode.TRAINER, "autre", candidate_username="cand"), True, True, False),
        (TRAINER, summary(Mode.JURY, "jmartin", candidate_username="cand"), False, False, False),
        (CANDIDATE, summary(Mode.CANDIDATE, "cand", candidate_username="cand"), True, False, False),
        (CANDIDATE, summary(Mode.TRAINER, "fprof", candidate_username="cand"), False, False, False),
        (ADMIN, summary(Mode.JURY, "jmartin"), True, False, False),
    ],
)
def test_who_sees_decides_and_signs(user: User, review: ReviewSummary, sees: bool, decides: bool, signs: bool) -> None:
    assert can_see(user, review) is sees
    assert can(user, review, Capability.DECIDE) is decides
    assert may_sign(user, review) is signs


def test_the_pre_readings_a_role_may_run_are_the_reviews_it_may_create() -> None:
    assert runnable_modes(Role.JURY) == [Mode.JURY]
    assert runnable_modes(Role.TRAINER) == [Mode.TRAINER]
    assert runnable_modes(Role.CANDIDATE) == [Mode.CANDIDATE]
    assert runnable_modes(Role.ADMIN) == []


def test_the_app_derives_no_permission_from_roles_itself() -> None:
    """The app compares roles only to choose what to show (a trainer's candidate list, a candidate's own
    name), never to decide what a user may do: that is permissions.py's."""
    tree = ast.parse((ROOT / "src" / "assessor" / "webapp" / "app.py").read_text(encoding="utf-8"))
    role_tests = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and "user.role" in ast.unparse(node.left)
        and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
    ]
    assert role_tests == []
