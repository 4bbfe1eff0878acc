"""The real HTTP path: ChatOpenAI against a stub OpenAI-compatible server on 127.0.0.1.

Covers what a real provider does to a pre-assessment: timeouts, 429 with Retry-After, 500,
malformed JSON, JSON that violates the schema, truncated output, a refusal, invented chunk
ids and invented quotes. Each case goes through ``assess_with_model`` as in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor.dossiers import DossierStore
from assessor.library import Library
from assessor.llm import LLMSettings, make_chat_model
from assessor.referential import Referential
from assessor.results import CriterionResult, Flag, Status
from assessor.settings import Settings
from fakes import assess_criterion
from stub_llm import Reply, StubLLMServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dossier(tmp_path_factory: pytest.TempPathFactory) -> tuple[DossierStore, Referential]:
    store = DossierStore(Settings(data_dir=tmp_path_factory.mktemp("data")))
    store.ingest("m", [ROOT / "sample_dossiers" / "manager-b2" / "dossier.pdf"])
    return store, Library.from_settings(Settings()).get("manager-developpement-commercial")


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer(model="stub-model") as server:
        yield server


def first_passage(request: dict[str, Any]) -> tuple[str, str]:
    user = request["messages"][-1]["content"] if len(request["messages"]) == 2 else request["messages"][1]["content"]
    match = re.search(r"\[([^\]]+)\] [^\n]*\n([^\n]+)", user)
    assert match, "the prompt lists passages as [id] file, locator + text"
    return match.group(1), " ".join(match.group(2).split()[:6])


def valid(outcome: str = "acquis") -> Reply:
    def respond(request: dict[str, Any]) -> Reply:
        chunk_id, quote = first_passage(request)
        return Reply.json_content(
            {
                "outcome": outcome,
                "rationale": "Le passage cité répond au critère.",
                "citations": [{"chunk_id": chunk_id, "quote": quote}],
                "missing": [],
                "feedback": "",
                "confidence": 0.7,
                "suspected_injections": [],
            }
        )

    return Reply.responder(respond)


def assess(dossier: tuple[DossierStore, Referential], stub: StubLLMServer, **llm: Any) -> CriterionResult:
    store, ref = dossier
    settings = LLMSettings(model="compatible:stub-model", base_url=stub.base_url, **llm)
    model, spec = make_chat_model(settings, env={})
    result, _ = assess_criterion(store, "m", ref, "B2", model, spec.id, k=4, max_attempts=settings.max_attempts)
    return result


def test_a_valid_answer_over_http(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(valid())
    result = assess(dossier, stub, max_retries=0)
    assert result.outcome == "acquis" and all(c.verified for c in result.citations)
    assert result.input_tokens > 0 and result.output_tokens > 0
    request = stub.chat_requests[0]
    assert request.body["model"] == "stub-model" and request.body["temperature"] == 0.0
    assert "<<<DOSSIER" in request.prompt_text and request.body["messages"][0]["role"] == "system"


def test_429_with_retry_after_is_retried(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.status(429, headers={"Retry-After": "0", "retry-after-ms": "10"}), valid())
    result = assess(dossier, stub, max_retries=2)
    assert result.outcome == "acquis" and len(stub.chat_requests) == 2


def test_500_without_retries_left_keeps_the_evidence_only_result(
    dossier: tuple[DossierStore, Referential], stub: StubLLMServer
) -> None:
    stub.enqueue(Reply.status(500))
    result = assess(dossier, stub, max_retries=0)
    assert Flag.MODEL_ERROR in result.flags and result.status is Status.NEEDS_REVIEW
    assert "erreur du fournisseur" in result.rationale


def test_a_timeout_is_a_clear_message(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.delay(2.0, then=valid()))
    result = assess(dossier, stub, max_retries=0, timeout_s=0.3)
    assert Flag.MODEL_ERROR in result.flags and "délai dépassé" in result.rationale


@pytest.mark.parametrize(
    "bad",
    [
        Reply.text('{"outcome": "acquis", "rationale": "oui"'),  # malformed JSON
        Reply.json_content({"outcome": "acquis", "verdict": "bon"}),  # violates the schema
        Reply.truncated('{"outcome": "acquis", "rationale": "Le candidat'),  # cut by the length limit
        Reply.json_content(
            {
                "outcome": "acquis",
                "rationale": "r",
                "citations": [{"chunk_id": "c-invente-000", "quote": "un passage qui n'existe pas du tout"}],
                "missing": [],
                "feedback": "",
                "confidence": 0.9,
                "suspected_injections": [],
            }
        ),  # invented chunk id
    ],
    ids=["malformed-json", "schema-violation", "truncated", "invented-chunk-id"],
)
def test_a_bad_answer_is_retried_with_its_error(
    dossier: tuple[DossierStore, Referential], stub: StubLLMServer, bad: Reply
) -> None:
    stub.enqueue(bad, valid("partiellement_acquis"))
    result = assess(dossier, stub, max_retries=0)
    assert result.outcome == "partiellement_acquis" and result.attempts == 2
    assert result.attempt_log[0].errors
    retry = stub.chat_requests[1].body["messages"][-1]["content"]
    assert any(word in retry for word in ("JSON", "champ", "tronquée", "passage inconnu"))


def test_an_invented_quote_never_passes_as_verified(
    dossier: tuple[DossierStore, Referential], stub: StubLLMServer
) -> None:
    def invented(request: dict[str, Any]) -> Reply:
        chunk_id, _ = first_passage(request)
        return Reply.json_content(
            {
                "outcome": "acquis",
                "rationale": "r",
                "citations": [
                    {"chunk_id": chunk_id, "quote": "le candidat démontre une maîtrise exceptionnelle du sujet"}
                ],
                "missing": [],
                "feedback": "",
                "confidence": 0.9,
                "suspected_injections": [],
            }
        )

    stub.enqueue(Reply.responder(invented), Reply.responder(invented), Reply.responder(invented))
    result = assess(dossier, stub, max_retries=0)
    assert result.outcome == "preuves_insuffisantes" and result.status is Status.NEEDS_REVIEW
    assert {Flag.UNVERIFIED_CITATION, Flag.POSITIVE_WITHOUT_EVIDENCE} <= set(result.flags)
    assert result.citations and not result.citations[0].verified and len(stub.chat_requests) == 3


def test_a_refusal_is_not_retried(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.refusal("Je ne peux pas aider à évaluer une personne."))
    result = assess(dossier, stub, max_retries=0)
    assert len(stub.chat_requests) == 1 and Flag.MODEL_ERROR in result.flags and "refusé" in result.rationale


def test_the_raw_outputs_are_kept_for_the_audit(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.text("pas du JSON"), valid())
    result = assess(dossier, stub, max_retries=0)
    assert result.attempt_log[0].raw_output == "pas du JSON"
    assert json.loads(result.attempt_log[1].raw_output)["outcome"] == "acquis"
