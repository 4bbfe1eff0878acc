"""A criterion assessed by a (fake) language model: verification, retries, fallbacks, the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from assessor.dossiers import DossierStore
from assessor.library import Library
from assessor.llm import LLMError, ModelSpec, make_chat_model, parse_spec
from assessor.pipeline import assess_dossier, budgeted
from assessor.prompts import PromptLibrary
from assessor.redaction import MASK
from assessor.referential import Criterion, Referential
from assessor.report import ReportFormat, render
from assessor.results import CriterionResult, DossierFlag, Flag, Mode, Status
from assessor.settings import LLMSettings, Settings
from fakes import FunctionChatModel, answer, assess_criterion, passages_in, quoting_first_passage

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_dossiers"
SPEC = ModelSpec("fake", "function", remote=False)


@pytest.fixture(scope="module")
def dossier(tmp_path_factory: pytest.TempPathFactory) -> tuple[DossierStore, Referential]:
    store = DossierStore(Settings(data_dir=tmp_path_factory.mktemp("data")))
    store.ingest("omni", [SAMPLES / "omnicanal-b1" / "dossier.pdf"])
    return store, Library.from_settings(Settings()).get("dev-commercial-omnicanal")


def run_one(
    dossier: tuple[DossierStore, Referential], model: FunctionChatModel, index: int = 0, max_attempts: int = 3
) -> tuple[tuple[CriterionResult, list[DossierFlag]], Criterion]:
    store, ref = dossier
    outcome = assess_criterion(
        store, "omni", ref, "B1", model, "fake:function", index=index, max_attempts=max_attempts, prices=(1.0, 2.0)
    )
    return outcome, ref.criteria_of("B1")[index]


def test_a_verified_answer_is_accepted(dossier: tuple[DossierStore, Referential]) -> None:
    model = FunctionChatModel(script=quoting_first_passage())
    (result, _), _ = run_one(dossier, model)
    assert model.calls == 1
    assert result.outcome == "acquis" and result.status is Status.PROPOSED and result.flags == []
    assert result.citations and all(c.verified for c in result.citations)
    assert result.prompt_version == PromptLibrary().version and result.model == "fake:function"
    assert result.input_tokens > 0 and result.cost_eur > 0 and len(result.attempt_log) == 1


def test_an_invented_quote_is_sent_back_and_the_corrected_answer_accepted(
    dossier: tuple[DossierStore, Referential],
) -> None:
    def script(messages: list[BaseMessage], number: int) -> str:
        chunk_id = next(iter(passages_in(messages)))
        if number == 1:
            return answer("acquis", [(chunk_id, "une phrase que le candidat n'a jamais écrite nulle part")])
        return quoting_first_passage()(messages, number)  # type: ignore[return-value]

    model = FunctionChatModel(script=script)
    (result, _), _ = run_one(dossier, model)
    assert model.calls == 2
    retry = str(model.seen[1][-1].content)
    assert "Citation n°1" in retry and "introuvable" in retry
    assert result.outcome == "acquis" and all(c.verified for c in result.citations)
    assert [bool(a.errors) for a in result.attempt_log] == [True, False]


def test_a_positive_outcome_without_verified_citation_becomes_insufficient_evidence(
    dossier: tuple[DossierStore, Referential],
) -> None:
    def script(messages: list[BaseMessage], number: int) -> str:
        return answer("acquis", [("identifiant-invente", "le candidat a tout parfaitement réussi")])

    model = FunctionChatModel(script=script)
    (result, _), _ = run_one(dossier, model, max_attempts=2)
    assert model.calls == 2
    assert result.outcome == "preuves_insuffisantes" and result.status is Status.NEEDS_REVIEW
    assert Flag.POSITIVE_WITHOUT_EVIDENCE in result.flags and Flag.UNVERIFIED_CITATION in result.flags
    assert len(result.citations) == 1 and not result.citations[0].verified  # shown, never dropped
    assert "passage inconnu" in result.citations[0].verification


def test_a_real_passage_quoted_with_one_word_changed_never_keeps_a_positive_outcome(
    dossier: tuple[DossierStore, Referential],
) -> None:
    """The model quotes a passage it was given with one letter of one word changed (« dans » for
    « sans »), three times over: the fuzzy matching of old let such a quote through."""
    changes: list[tuple[str, str]] = []

    def script(messages: list[BaseMessage], number: int) -> str:
        chunk_id, text = next(iter(passages_in(messages).items()))
        words = text.split()[:12]
        at = next(i for i, w in enumerate(words) if i and w.isalpha() and len(w) >= 5)
        changed = ("s" if words[at][0] != "s" else "d") + words[at][1:]
        changes.append((words[at], changed))
        words[at] = changed
        return answer("acquis", [(chunk_id, " ".join(words))])

    model = FunctionChatModel(script=script)
    (result, _), _ = run_one(dossier, model, max_attempts=3)
    assert model.calls == 3
    assert result.outcome == "preuves_insuffisantes" and result.status is Status.NEEDS_REVIEW
    assert Flag.POSITIVE_WITHOUT_EVIDENCE in result.flags and Flag.UNVERIFIED_CITATION in result.flags
    (citation,) = result.citations
    original, changed = changes[-1]
    assert not citation.verified and f" {changed} " in f" {citation.quote} "  # shown as the model wrote it
    assert (
        citation.verification
        == f"citation inexacte : le passage porte « {original} » là où la citation porte « {changed} »"
    )
    assert citation.verification in str(model.seen[1][-1].content)  # the retry names the change


@pytest.mark.parametrize(
    "first",
    [
        "Voici mon analyse : le critère est acquis.",  # no JSON at all
        '{"outcome": "acquis", "rationale": ',  # malformed JSON
        json.dumps({"outcome": "acquis"}),  # fields missing
        answer("excellent"),  # an outcome outside the scale
        answer("non_acquis", bonus="champ en trop"),  # a field the schema forbids
    ],
)
def test_unusable_answers_are_retried_with_the_error(dossier: tuple[DossierStore, Referential], first: str) -> None:
    model = FunctionChatModel(script=lambda m, n: first if n == 1 else quoting_first_passage("non_acquis")(m, n))
    (result, _), _ = run_one(dossier, model)
    assert model.calls == 2 and result.outcome == "non_acquis" and result.attempt_log[0].errors
    assert result.attempt_log[0].raw_output == first  # kept for the audit


def test_a_refusal_keeps_the_evidence_only_result_for_review(dossier: tuple[DossierStore, Referential]) -> None:
    refusal = AIMessage("", additional_kwargs={"refusal": "Je ne peux pas évaluer un candidat."})
    model = FunctionChatModel(script=lambda m, n: refusal)
    (result, _), _ = run_one(dossier, model)
    assert model.calls == 1
    assert Flag.MODEL_ERROR in result.flags and Flag.EVIDENCE_ONLY in result.flags
    assert result.status is Status.NEEDS_REVIEW and result.rationale.startswith("Refus du modèle. ")
    assert result.attempt_log[0].errors == ["le modèle a refusé de répondre : Je ne peux pas évaluer un candidat."]


def test_a_truncated_answer_is_asked_again(dossier: tuple[DossierStore, Referential]) -> None:
    truncated = AIMessage('{"outcome": "acq', response_metadata={"finish_reason": "length"})
    model = FunctionChatModel(script=lambda m, n: truncated if n == 1 else quoting_first_passage()(m, n))
    (result, _), _ = run_one(dossier, model)
    assert model.calls == 2 and result.outcome == "acquis"
    assert "tronquée" in result.attempt_log[0].errors[0]


def test_a_retry_that_cannot_reach_the_model_keeps_the_first_answer_flagged_and_uncached(
    dossier: tuple[DossierStore, Referential],
) -> None:
    class APIConnectionError(Exception):
        pass

    def script(messages: list[BaseMessage], number: int) -> str | Exception:
        if number == 1:
            return answer("acquis", [(next(iter(passages_in(messages))), "une phrase jamais écrite par le candidat")])
        return APIConnectionError("connection reset")

    (result, _), _ = run_one(dossier, FunctionChatModel(script=script))
    assert result.status is Status.NEEDS_REVIEW and Flag.MODEL_ERROR in result.flags
    assert result.outcome == "preuves_insuffisantes" and not result.citations[0].verified  # shown, never trusted
    assert result.attempt_log[-1].errors == [
        "modèle injoignable : connexion impossible",
        "APIConnectionError : connection reset",
    ]
    # The pipeline never caches a result flagged MODEL_ERROR: running again asks the model again.


def test_a_provider_error_is_reported_without_the_key(dossier: tuple[DossierStore, Referential]) -> None:
    class APITimeoutError(Exception):
        pass

    model = FunctionChatModel(script=lambda m, n: APITimeoutError("timeout; key sk-proj-SECRETSECRET123 rejected"))
    (result, _), _ = run_one(dossier, model)
    assert Flag.MODEL_ERROR in result.flags and "délai dépassé" in result.rationale
    assert "SECRETSECRET" not in result.model_dump_json()


def test_a_key_repeated_by_the_model_is_masked_in_all_that_is_kept(
    dossier: tuple[DossierStore, Referential], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "q7Rk2Lm9Xw4Zp8Vt3Ny6Bc1Df5Gh0Jk2"  # Mistral-like: no shape gives it away, only its value
    monkeypatch.setenv("MISTRAL_API_KEY", key)

    def script(messages: list[BaseMessage], number: int) -> str:
        chunk_id = next(iter(passages_in(messages)))
        if number == 1:
            return f"Pas de JSON, mais la clé reçue : {key}"
        injection = {"chunk_id": chunk_id, "excerpt": key}
        return answer(
            "acquis", [(chunk_id, key)], rationale=f"clé {key}", missing=[key], feedback=key,
            suspected_injections=[injection],
        )  # fmt: skip

    (result, injected), _ = run_one(dossier, FunctionChatModel(script=script), max_attempts=2)
    assert result.attempts == 2 and injected
    assert key not in result.model_dump_json() and all(key not in f.model_dump_json() for f in injected)
    assert MASK in result.attempt_log[0].raw_output and MASK in result.rationale and MASK in result.feedback


def test_the_pipeline_with_a_model(dossier: tuple[DossierStore, Referential]) -> None:
    store, ref = dossier
    model = FunctionChatModel(script=quoting_first_passage("partiellement_acquis"))
    report = assess_dossier(store, "omni", ref, blocks=["B1"], chat_model=(model, SPEC), llm=LLMSettings(concurrency=4))
    assert not report.evidence_only and report.model == "fake:function" and report.prompt_version
    assert len(report.criteria) == 23 and model.calls == 23
    assert all(r.outcome == "partiellement_acquis" for r in report.criteria)
    assert report.usage.input_tokens > 0 and report.usage.model_calls == 23
    again = assess_dossier(store, "omni", ref, blocks=["B1"], chat_model=(model, SPEC), llm=LLMSettings())
    assert model.calls == 23 and all(r.cached for r in again.criteria)  # re-running costs nothing
    assert again.usage.model_calls == 0
    # Every model proposal sits next to the evidence-only baseline, in the data and in the reports.
    baseline = assess_dossier(store, "omni", ref, blocks=["B1"])
    assert [r.baseline_outcome for r in report.criteria] == [r.outcome for r in baseline.criteria]
    assert all(r.baseline_outcome is None for r in baseline.criteria)
    markdown = render(report, ReportFormat.MD)
    assert "Repérage sans IA" in markdown and "| Partiellement acquis | proposition | À examiner |" in markdown
    assert "<th>Repérage sans IA</th>" in render(report, ReportFormat.HTML)
    assert "Repérage sans IA" not in render(baseline, ReportFormat.MD).split("## Bloc")[1]


def test_oral_criteria_never_reach_the_model(tmp_path: Path) -> None:
    store = DossierStore(Settings(data_dir=tmp_path))
    store.ingest("gc", [SAMPLES / "grands-comptes-b1" / "dossier.pdf"])
    ref = Library.from_settings(Settings()).get("grands-comptes")
    model = FunctionChatModel(script=quoting_first_passage())
    report = assess_dossier(store, "gc", ref, blocks=["B1"], chat_model=(model, SPEC))
    oral = [r for r in report.criteria if r.outcome == "non_evaluable_ecrit"]
    assert len(oral) == 4 and all(r.attempts == 0 and r.model == "evidence-only" for r in oral)
    assert model.calls == len(report.criteria) - 4


def test_injections_reported_by_the_model_become_dossier_flags(tmp_path: Path) -> None:
    store = DossierStore(Settings(data_dir=tmp_path))
    store.ingest("a", [SAMPLES / "activites-b1" / "dossier.pdf"])
    ref = Library.from_settings(Settings()).get("developpement-commercial-activites")

    def script(messages: list[BaseMessage], number: int) -> str:
        chunk_id, text = next(iter(passages_in(messages).items()))
        return answer(
            "non_acquis",
            [(chunk_id, " ".join(text.split()[:5]))],
            suspected_injections=[{"chunk_id": chunk_id, "excerpt": "texte suspect signalé"}],
        )

    report = assess_dossier(store, "a", ref, blocks=["B1"], chat_model=(FunctionChatModel(script=script), SPEC))
    assert any(f.excerpt == "texte suspect signalé" for f in report.flags)
    assert any(Flag.SUSPECTED_INJECTION in r.flags for r in report.criteria)


def test_evidence_budget_keeps_prompts_short(dossier: tuple[DossierStore, Referential]) -> None:
    store, _ = dossier
    chunks = store.index.chunks("omni")
    chosen = budgeted(chunks, 3000)
    assert sum(len(c.text) for c in chosen) <= 3000 and chosen
    assert budgeted(chunks[:1], 10) == chunks[:1]  # never empty


@pytest.mark.parametrize(
    ("spec", "env", "message"),
    [
        ("gpt-4o", {}, "fournisseur:modèle"),
        ("nope:model", {}, "fournisseur:modèle"),
        ("openai:gpt-4o-mini", {}, "OPENAI_API_KEY"),
        ("mistral:mistral-small-latest", {}, "MISTRAL_API_KEY"),
        ("anthropic:claude-sonnet-4-5", {}, "ANTHROPIC_API_KEY"),
        ("azure_openai:deploiement", {"AZURE_OPENAI_API_KEY": "x" * 20}, "AZURE_OPENAI_ENDPOINT"),
        ("compatible:mon-modele", {}, "--llm-base-url"),
    ],
)
def test_provider_configuration_errors_are_explained(spec: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(LLMError, match=message):
        make_chat_model(LLMSettings(model=spec), env=env)


def test_each_provider_builds_with_its_usual_variables() -> None:
    env = {
        "OPENAI_API_KEY": "sk-test-aaaaaaaa",
        "MISTRAL_API_KEY": "m" * 20,
        "ANTHROPIC_API_KEY": "a" * 20,
        "AZURE_OPENAI_API_KEY": "z" * 20,
        "AZURE_OPENAI_ENDPOINT": "https://exemple.openai.azure.com",
        "OPENAI_API_VERSION": "2024-10-21",
        "OLLAMA_HOST": "127.0.0.1:11434",
    }
    kinds = {}
    for spec in (
        "openai:gpt-4o-mini",
        "mistral:mistral-small-latest",
        "anthropic:claude-sonnet-4-5",
        "azure_openai:deploiement",
        "ollama:qwen2.5:7b",
    ):
        model, parsed = make_chat_model(LLMSettings(model=spec), env=env)
        kinds[parsed.provider] = type(model).__name__
    assert kinds == {
        "openai": "ChatOpenAI",
        "mistral": "ChatMistralAI",
        "anthropic": "ChatAnthropic",
        "azure_openai": "AzureChatOpenAI",
        "ollama": "ChatOllama",
    }
    model, parsed = make_chat_model(LLMSettings(model="compatible:qwen", base_url="http://127.0.0.1:8080/v1"), env={})
    assert type(model).__name__ == "ChatOpenAI" and not parsed.remote


def test_local_only_refuses_remote_providers() -> None:
    env = {"OPENAI_API_KEY": "sk-test-aaaaaaaa"}
    with pytest.raises(LLMError, match="local_only"):
        make_chat_model(LLMSettings(model="openai:gpt-4o-mini", local_only=True), env=env)
    assert not parse_spec("ollama:qwen", env={"OLLAMA_HOST": "http://localhost:11434"}).remote
    assert parse_spec("ollama:qwen", env={"OLLAMA_HOST": "http://10.0.0.5:11434"}).remote
    assert not parse_spec("compatible:x", base_url="http://127.0.0.1:8000/v1").remote


def test_personal_data_is_pseudonymised_for_a_remote_model_and_restored(tmp_path: Path) -> None:
    text = tmp_path / "dossier.md"
    text.write_text(
        "# Contexte\n\nJe suis Camille Durand, joignable au 06 12 34 56 78 ou à camille.durand@exemple.fr. "
        "Le plan de prospection cible les cliniques de la région avec un budget de 12 000 euros.\n",
        encoding="utf-8",
    )
    store = DossierStore(Settings(data_dir=tmp_path / "data"))
    store.ingest("p", [text])
    ref = Library.from_settings(Settings()).get("grands-comptes")
    seen: list[str] = []

    def script(messages: list[BaseMessage], number: int) -> str:
        user = str(messages[1].content)
        seen.append(user)
        chunk_id, passage = next(iter(passages_in(messages).items()))
        return answer(
            "non_acquis",
            [(chunk_id, " ".join(passage.split()[:8]))],
            rationale="Le candidat [PERSONNE_1] décrit un plan de prospection.",
        )

    remote = ModelSpec("fake", "distant", remote=True)
    report = assess_dossier(
        store,
        "p",
        ref,
        blocks=["B1"],
        chat_model=(FunctionChatModel(script=script), remote),
        llm=LLMSettings(pseudonymise=True),
    )
    assert seen and all(
        "Camille Durand" not in u and "06 12 34 56 78" not in u and "@exemple.fr" not in u for u in seen
    )
    assert any("[PERSONNE_1]" in u for u in seen)
    written = [r for r in report.criteria if r.attempts]
    assert written and all("Camille Durand" in r.rationale for r in written)
    assert report.pseudonymised
    assert all(c.verified for r in written for c in r.citations)


def test_a_criterion_without_any_passage_is_not_sent_to_the_model(tmp_path: Path) -> None:
    text = tmp_path / "court.md"
    text.write_text("# Note\n\nUn document très court sur la météo de la semaine.\n", encoding="utf-8")
    store = DossierStore(Settings(data_dir=tmp_path / "data"))
    store.ingest("c", [text])
    ref = Library.from_settings(Settings()).get("grands-comptes")
    model = FunctionChatModel(script=quoting_first_passage())
    report = assess_dossier(store, "c", ref, blocks=["B1"], chat_model=(model, SPEC))
    without = [r for r in report.criteria if not r.evidence_ids and r.outcome != "non_evaluable_ecrit"]
    assert without and all(r.outcome == "preuves_insuffisantes" and r.attempts == 0 for r in without)
    assert model.calls == sum(1 for r in report.criteria if r.attempts)


def test_oral_criteria_reach_the_model_only_when_asked(tmp_path: Path) -> None:
    store = DossierStore(Settings(data_dir=tmp_path))
    store.ingest("gc", [SAMPLES / "grands-comptes-b1" / "dossier.pdf"])
    ref = Library.from_settings(Settings()).get("grands-comptes")
    model = FunctionChatModel(script=quoting_first_passage("non_evaluable_ecrit"))
    report = assess_dossier(
        store, "gc", ref, blocks=["B1"], chat_model=(model, SPEC), llm=LLMSettings(assess_oral=True)
    )
    oral = [r for r in report.criteria if r.criterion_id.startswith("grands-comptes/B1/C1/")]
    assert oral and all(r.attempts == 1 and r.model == "fake:function" for r in oral)


def test_candidate_mode_speaks_of_coverage_not_grades(tmp_path: Path) -> None:
    store = DossierStore(Settings(data_dir=tmp_path))
    store.ingest("m", [SAMPLES / "manager-b2" / "dossier.pdf"])
    ref = Library.from_settings(Settings()).get("manager-developpement-commercial")
    model = FunctionChatModel(script=quoting_first_passage("acquis"))
    report = assess_dossier(store, "m", ref, blocks=["B2"], chat_model=(model, SPEC), mode=Mode.CANDIDATE)
    labels = set(report.outcome_labels.values())
    assert "Traité dans le dossier" in labels and not labels & {"Acquis", "Partiellement acquis", "Non acquis"}
    from assessor.report import ReportFormat, render

    md = render(report, ReportFormat.MD)
    assert "Traité dans le dossier" in md and "| Acquis |" not in md


def test_provider_keys_are_read_from_the_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assessor.llm import environment

    (tmp_path / ".env").write_text("MISTRAL_API_KEY=cle-depuis-le-fichier-env\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    assert environment()["MISTRAL_API_KEY"] == "cle-depuis-le-fichier-env"
    monkeypatch.setenv("MISTRAL_API_KEY", "cle-de-l-environnement")
    assert environment()["MISTRAL_API_KEY"] == "cle-de-l-environnement"  # the environment wins
    _, spec = make_chat_model(LLMSettings(model="mistral:mistral-small-latest"))
    assert spec.provider == "mistral"


def test_committed_report_schema_is_up_to_date() -> None:
    from assessor.cli.assess import report_json_schema

    committed = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    assert committed == report_json_schema(), "run: assessor report-schema -o docs/report.schema.json"
