"""The real HTTP path: ChatOpenAI against a stub OpenAI-compatible server on 127.0.0.1.

Covers what a real provider does to a pre-assessment: timeouts, 429 with Retry-After, 500,
malformed JSON, JSON that violates the schema, truncated output, a refusal, invented chunk
ids and invented quotes. Each case goes through ``assess_with_model`` as in production, and
each tells the jury what happened in a few French words, the detail kept in the attempt log.
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
from assessor.llm import make_chat_model
from assessor.referential import Referential
from assessor.results import FLAG_LABELS, CriterionResult, Flag, Status
from assessor.settings import LLMSettings, Settings
from fakes import assess_criterion
from servers import free_port
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


def answer_with(*, quote: str | None = None, **fields: Any) -> Reply:
    """A complete answer citing the first passage (its first six words, or ``quote``), with
    ``fields`` changed (a None value removes the field)."""

    def respond(request: dict[str, Any]) -> Reply:
        chunk_id, first_words = first_passage(request)
        body = {
            "outcome": "acquis",
            "rationale": "Le passage cité répond au critère.",
            "citations": [{"chunk_id": chunk_id, "quote": quote or first_words}],
            "missing": [],
            "feedback": "",
            "confidence": 0.7,
            "suspected_injections": [],
        }
        body.update(fields)
        return Reply.json_content({k: v for k, v in body.items() if v is not None})

    return Reply.responder(respond)


def valid(outcome: str = "acquis") -> Reply:
    return answer_with(outcome=outcome)


def assess(
    dossier: tuple[DossierStore, Referential], stub: StubLLMServer, base_url: str | None = None, **llm: Any
) -> CriterionResult:
    store, ref = dossier
    settings = LLMSettings(model="compatible:stub-model", base_url=base_url or stub.base_url, **llm)
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


# English a jury must never read: pydantic's, the clients' and Python's own words.
ENGLISH = (
    "Input should", "Field required", "validation error", "Traceback", "Error", "Exception", "Request timed out",
    "Expecting", "Connection", "pydantic", "For further information", "line 1 column",
)  # fmt: skip
INVENTED = "le candidat démontre une maîtrise exceptionnelle du sujet"
POSITIVE_WITHOUT_QUOTE = "Le modèle proposait « acquis » sans citation vérifiée : ramené à « preuves insuffisantes »."
FAULTS = {
    "timeout": ([Reply.delay(2.0, then=valid())], {"timeout_s": 0.3}, "Modèle injoignable : délai dépassé.", "Timeout"),
    "429": ([Reply.status(429)], {}, "Modèle surchargé : trop de requêtes (429).", "RateLimitError"),
    "500": ([Reply.status(500)], {}, "Erreur du fournisseur (HTTP 500).", "Error code: 500"),
    "401": ([Reply.status(401)], {}, "Clé d'API refusée par le fournisseur.", "AuthenticationError"),
    "connection": ([], {"base_url": "closed"}, "Modèle injoignable : connexion impossible.", "Connection error"),
    "malformed-json": (
        [Reply.text('{"outcome": "acquis", "rationale": "oui"')] * 3,
        {},
        "Réponse du modèle inexploitable : JSON invalide.",
        "JSON invalide : ",
    ),
    "citations-missing": (
        [answer_with(citations=None)] * 3,
        {},
        "Réponse du modèle inexploitable : champ citations absent.",
        "le champ « citations » manque",
    ),
    "schema-violation": (
        [answer_with(confidence="haute", verdict="bon")] * 3,
        {},
        "Réponse du modèle inexploitable : champ confidence invalide ; champ verdict non prévu.",
        "Input should be a valid number",
    ),
    "outcome-not-allowed": (
        [answer_with(outcome="excellent")] * 3,
        {},
        "Réponse du modèle inexploitable : résultat « excellent » non prévu.",
        "le résultat « excellent » n'est pas autorisé",
    ),
    "truncated": (
        [Reply.truncated('{"outcome": "acquis", "rationale": "Le candidat')] * 3,
        {},
        "Réponse tronquée.",
        "réponse tronquée (limite de longueur atteinte)",
    ),
    "refusal": ([Reply.refusal("I cannot help with that.")], {}, "Refus du modèle.", "I cannot help with that."),
    "invented-chunk-id": (
        [answer_with(citations=[{"chunk_id": "c-invente-000", "quote": "un passage qui n'existe pas"}])] * 3,
        {},
        POSITIVE_WITHOUT_QUOTE,
        "passage inconnu : « c-invente-000 »",
    ),
    "invented-quote": (
        [answer_with(quote=INVENTED)] * 3,
        {},
        POSITIVE_WITHOUT_QUOTE,
        "introuvable dans le passage",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_told_to_the_jury_in_a_few_french_words(
    dossier: tuple[DossierStore, Referential], stub: StubLLMServer, fault: str
) -> None:
    replies, llm, told, detail = FAULTS[fault]
    stub.enqueue(*replies)
    if llm.get("base_url") == "closed":
        llm = {"base_url": f"http://127.0.0.1:{free_port()}/v1"}
    result = assess(dossier, stub, max_retries=0, **llm)
    assert result.status is Status.NEEDS_REVIEW and result.rationale.startswith(told + " ")
    jury_reads = [
        result.rationale,
        *result.missing,
        result.feedback,
        *(c.verification for c in result.citations),
        *(FLAG_LABELS[f] for f in result.flags),
    ]
    assert not [word for word in ENGLISH if any(word in text for text in jury_reads)]
    logged = "\n".join(e for a in result.attempt_log for e in a.errors)
    assert detail in logged  # the detail, for experts: in the attempt log, which the audit records


@pytest.mark.parametrize(
    "bad",
    [
        Reply.text('{"outcome": "acquis", "rationale": "oui"'),  # malformed JSON
        Reply.json_content({"outcome": "acquis", "verdict": "bon"}),  # violates the schema
        Reply.truncated('{"outcome": "acquis", "rationale": "Le candidat'),  # cut by the length limit
        answer_with(citations=[{"chunk_id": "c-invente-000", "quote": "un passage qui n'existe pas"}]),
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
    stub.enqueue(*[answer_with(quote=INVENTED)] * 3)
    result = assess(dossier, stub, max_retries=0)
    assert result.outcome == "preuves_insuffisantes" and result.status is Status.NEEDS_REVIEW
    assert {Flag.UNVERIFIED_CITATION, Flag.POSITIVE_WITHOUT_EVIDENCE} <= set(result.flags)
    assert result.citations and not result.citations[0].verified and len(stub.chat_requests) == 3


def test_a_refusal_is_not_retried(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.refusal("Je ne peux pas aider à évaluer une personne."))
    result = assess(dossier, stub, max_retries=0)
    assert len(stub.chat_requests) == 1 and Flag.MODEL_ERROR in result.flags


def test_the_raw_outputs_are_kept_for_the_audit(dossier: tuple[DossierStore, Referential], stub: StubLLMServer) -> None:
    stub.enqueue(Reply.text("pas du JSON"), valid())
    result = assess(dossier, stub, max_retries=0)
    assert result.attempt_log[0].raw_output == "pas du JSON"
    assert json.loads(result.attempt_log[1].raw_output)["outcome"] == "acquis"


# ------------------------------------------------------------------ several servers of one model


def test_calls_are_spread_over_several_servers(dossier: tuple[DossierStore, Referential]) -> None:
    store, ref = dossier
    with (
        StubLLMServer(model="stub-model", default=valid()) as one,
        StubLLMServer(model="stub-model", default=valid()) as two,
    ):
        settings = LLMSettings(model="compatible:stub-model", base_url=f"{one.base_url},{two.base_url}")
        model, spec = make_chat_model(settings, env={})  # one model for the run, as a batch or the app has
        for _ in range(4):
            result, _ = assess_criterion(store, "m", ref, "B2", model, spec.id, k=4)
            assert result.outcome == "acquis" and all(c.verified for c in result.citations)
        assert len(one.chat_requests) == len(two.chat_requests) == 2  # in turn


def test_a_server_down_or_failing_sends_the_call_to_the_next(dossier: tuple[DossierStore, Referential]) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    store, ref = dossier
    with (
        StubLLMServer(model="stub-model", default=Reply.status(503)) as failing,
        StubLLMServer(model="stub-model", default=valid()) as healthy,
    ):
        settings = LLMSettings(
            model="compatible:stub-model", base_url=f"{down},{failing.base_url},{healthy.base_url}", max_retries=1
        )
        model, spec = make_chat_model(settings, env={})  # one model: its three calls start on each server in turn
        for _ in range(3):
            result, _ = assess_criterion(store, "m", ref, "B2", model, spec.id, k=4)
            assert result.outcome == "acquis"
        assert len(healthy.chat_requests) == 3 and failing.chat_requests  # tried, then passed over


def test_a_refused_request_is_not_sent_to_the_other_servers(dossier: tuple[DossierStore, Referential]) -> None:
    with (
        StubLLMServer(model="stub-model", default=Reply.status(401)) as one,
        StubLLMServer(model="stub-model", default=Reply.status(401)) as two,
    ):
        result = assess(dossier, one, base_url=f"{one.base_url},{two.base_url}", max_attempts=1)
        assert result.outcome != "acquis" and "Clé d'API refusée" in result.rationale
        assert len(one.chat_requests) + len(two.chat_requests) == 1  # every server would refuse the same key


def test_several_addresses_count_as_remote_unless_all_are_on_this_machine() -> None:
    from assessor.llm import parse_spec

    assert not parse_spec("compatible:m", "http://127.0.0.1:1/v1,http://localhost:2/v1").remote
    assert parse_spec("compatible:m", "http://127.0.0.1:1/v1,http://gpu.example:8000/v1").remote
