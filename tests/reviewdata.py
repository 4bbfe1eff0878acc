"""Real machine reports for the review tests: a sample dossier, ingested and pre-assessed.

``evidence_report`` uses the evidence-only assessor; ``model_report`` a fake model that
quotes the first passage it is given (so verified citations and model attempts exist).
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from assessor.dossiers import DossierStore
from assessor.library import Library
from assessor.llm import ModelSpec
from assessor.pipeline import assess_dossier
from assessor.referential import Referential
from assessor.results import Mode, Report
from assessor.review.domain import ConflictError, ReviewState, User
from assessor.review.store import ReviewStore
from assessor.settings import Settings
from fakes import FunctionChatModel, quoting_first_passage

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dossiers" / "omnicanal-b1" / "dossier.pdf"
REFERENTIAL = "dev-commercial-omnicanal"


def referential() -> Referential:
    return Library.from_settings(Settings()).get(REFERENTIAL)


def _store(data_dir: Path) -> DossierStore:
    store = DossierStore(Settings(data_dir=data_dir))
    if "omni" not in {d.id for d in store.all()}:
        store.ingest("omni", [SAMPLE])
    return store


def evidence_report(data_dir: Path, *, mode: Mode = Mode.JURY) -> Report:
    """Block B1 (23 criteria) of the omnicanal sample, evidence-only."""
    return assess_dossier(_store(data_dir), "omni", referential(), blocks=["B1"], mode=mode)


def model_report(data_dir: Path, *, mode: Mode = Mode.JURY) -> Report:
    """Block B1 through a fake model that quotes its first passage (verified citations)."""
    spec = ModelSpec("fake", "quoting", remote=False)
    model = FunctionChatModel(script=quoting_first_passage("acquis"))
    return assess_dossier(_store(data_dir), "omni", referential(), blocks=["B1"], mode=mode, chat_model=(model, spec))


_SHARED: dict[tuple[str, Mode], Report] = {}
_SHARED_LOCK = threading.Lock()


def shared_report(kind: str = "evidence", mode: Mode = Mode.JURY) -> Report:
    """``evidence_report`` or ``model_report`` (``kind``), built once per test process for the modules
    that need only the report, not the dossier in their own data folder (ingesting and assessing
    takes seconds); each call returns a deep copy."""
    with _SHARED_LOCK:
        if (kind, mode) not in _SHARED:
            build = model_report if kind == "model" else evidence_report
            _SHARED[(kind, mode)] = build(_shared_folder(), mode=mode)
        return _SHARED[(kind, mode)].model_copy(deep=True)


@functools.cache
def _shared_folder() -> Path:
    """One data folder for every shared report: the sample dossier is ingested once per test process."""
    return Path(tempfile.mkdtemp(prefix="assessor-shared-reports-"))


def race(
    stores: Sequence[ReviewStore], review_id: str, user: User, criterion_ids: Sequence[str], expected_version: int
) -> list[str]:
    """Each store accepts its criterion at the same moment, against the same version.

    Returns each writer's fate, ``ok`` or ``conflict``, sorted: optimistic locking must give
    ``["conflict", "ok"]`` for two writers.
    """
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def write(store: ReviewStore, criterion_id: str) -> None:
        barrier.wait()
        try:
            store.decide_criterion(review_id, user, criterion_id, expected_version=expected_version, accept=True)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=pair) for pair in zip(stores, criterion_ids, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def decide_block_criteria(store: ReviewStore, state: ReviewState, user: User, block: str = "B1") -> ReviewState:
    """Every undecided criterion of the block decided: the proposals that can be accepted as they
    stand in one action, the others overridden with a reason."""
    accepted, left = store.remaining_proposals(state, block)
    if accepted:
        state, _, left = store.accept_remaining(state.summary.id, user, block, expected_version=state.version)
    for criterion_id, _ in left:
        state = store.decide_criterion(
            state.summary.id,
            user,
            criterion_id,
            expected_version=state.version,
            accept=False,
            outcome="non_acquis",
            reason="Lu par le jury : insuffisant.",
        )
    return state
