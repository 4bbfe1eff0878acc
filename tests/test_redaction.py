"""Masking secrets: known values in every encoding, secret shapes, JSON and models, and never
ordinary French text."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, strategies as st
from pydantic import SecretStr

from assessor.redaction import MASK, Redactor, known_secrets, redact, redact_json, redact_model, secrets_of
from assessor.results import ModelAttempt

ROOT = Path(__file__).resolve().parents[1]
KEY = "Zq8vX2mK9pLw4RtY7nBc"  # no known shape: only found as a known value
SCRUB = Redactor([KEY])


@pytest.mark.parametrize(
    "encoded",
    [
        KEY,
        quote(KEY, safe=""),
        base64.b64encode(KEY.encode()).decode(),
        base64.b64encode(f"jury:{KEY}".encode()).decode(),
        base64.b64encode(f"ab:{KEY}:cd".encode()).decode(),
    ],
    ids=["clear", "url-encoded", "base64", "base64-offset-1", "base64-offset-2"],
)
def test_a_known_key_is_masked_in_every_encoding(encoded: str) -> None:
    masked = SCRUB.text(f"valeur reçue : {encoded}.")
    assert KEY[4:16] not in masked and MASK in masked
    assert base64.b64encode(KEY.encode()).decode()[2:14] not in masked


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abcDEF123456ghiJKL", "Authorization: Bearer "),
        ("authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "authorization: Basic "),
        ('{"Authorization": "Bearer tok_1234567890abcdef"}', '{"Authorization": "Bearer '),
        ("x-api-key: 0123456789abcdefABCDEF", "x-api-key: "),
        ("api-key=abcdef0123456789", "api-key="),
        ("GET /v1?my_api_key=abcdef0123456789 HTTP/1.1", "my_api_key="),
        ("jeton bearer eyJhbGciOiJIUzI1Ni12345", "jeton bearer "),
        ("postgresql+psycopg://jury:motdepasse-tres-long@db.local/revues", "postgresql+psycopg://jury:"),
        ("clé sk-proj-AbCdEfGhIjKlMnOpQrStUv refusée", "clé "),
        ("sk-ant-api03-AbCdEfGhIjKlMnOpQrSt", ""),
        ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", ""),
        ("token: 9fQ2xL7mZ4vR8kT1wB6n", "token: "),
        ("mot de passe : A7x9Qm2LpZ4rT8vW", "mot de passe : "),
    ],
)
def test_secret_shapes_are_masked_and_their_labels_kept(text: str, kept: str) -> None:
    masked = redact(text)
    assert kept + MASK in masked
    assert not any(part in masked for part in ("123456", "ABCDEF", "AbCdEf", "motdepasse", "9fQ2xL", "A7x9Qm"))
    assert redact(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "La clé du succès : 2024-2025 a été une année de croissance.",
        "Token ring et jetons de présence : 12 réunions, 3 ateliers.",
        "Référence commande : 2024-CMD-000123, client Basic-Fit.",
        "Modèle mistral:mistral-small-latest, modèle openai:gpt-4o-mini, claude-sonnet-4-5.",
        "Chiffres clés : 1 250 000 € de chiffre d'affaires, +12 %.",
        "Passage 3f2a9c1b4d5e-p003-000123, sha256 " + "ab12" * 16,
        "https://www.example.fr/offres?ref=2024&page=2 et mailto:contact@example.fr",
        "Bearer of good news: the bearer cheque",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert SCRUB.text(text) == text


def test_the_sample_dossiers_and_referentials_are_left_alone() -> None:
    files = [*ROOT.glob("sample_dossiers/*/source.md"), *ROOT.glob("referentials/*.yaml"), *ROOT.glob("prompts/*")]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert SCRUB.text(text) == text, path


@given(st.text(alphabet="aé Bsk-_:=/+.@\"'\n0123456789xyzAKIAhfBearerauthorization", max_size=200))
def test_masking_is_idempotent(text: str) -> None:
    once = SCRUB.text(text + KEY)
    assert SCRUB.text(once) == once and KEY not in once


def test_json_values_are_masked_deeply_and_secret_fields_entirely() -> None:
    value = {
        "headers": [("Authorization", f"Bearer {KEY}")],
        "api_key": "anything-at-all",
        "nested": {"text": f"la clé {KEY}", "count": 3, "ok": True, "none": None},
        "input_tokens": 12,
    }
    masked = redact_json(value, [KEY])
    assert masked["api_key"] == MASK and masked["nested"]["count"] == 3 and masked["input_tokens"] == 12
    assert KEY not in json.dumps(masked) and masked["headers"][0] == ("Authorization", f"Bearer {MASK}")
    assert redact_json(masked, [KEY]) == masked


def test_a_model_is_masked_and_returned_unchanged_when_clean() -> None:
    attempt = ModelAttempt(raw_output=f"Authorization: Bearer {KEY}", errors=[f"refusée : {KEY}"])
    masked = redact_model(attempt, [KEY])
    assert KEY not in masked.model_dump_json() and masked.raw_output == f"Authorization: Bearer {MASK}"
    assert redact_model(masked, [KEY]) is masked


def test_known_secrets_come_from_key_variables_and_url_passwords() -> None:
    env = {
        "OPENAI_API_KEY": " sk-from-the-environment-0001 ",
        "MISTRAL_API_KEY": "abcdefghijklmnopqrstuvwxyz012345",
        "HF_TOKEN": "hf_short",
        "ASSESSOR_DATABASE_URL": "postgresql://jury:p%40ss-w0rd-long@db/revues",
        "ASSESSOR_LLM__MODEL": "openai:gpt-4o-mini",
        "SHORT_API_KEY": "no-key",
    }
    assert known_secrets(env) == {
        "sk-from-the-environment-0001",
        "abcdefghijklmnopqrstuvwxyz012345",
        "hf_short",
        "p%40ss-w0rd-long",
        "p@ss-w0rd-long",
    }


def test_the_key_held_by_a_chat_model_is_found() -> None:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="m", api_key=SecretStr("sk-held-by-the-model-42"), base_url="http://127.0.0.1:9/v1")
    assert "sk-held-by-the-model-42" in secrets_of(model)


def test_headers_are_found_in_the_raw_text_of_a_json_answer() -> None:
    unknown = "q7Rk2Lm9Xw4Zp8Vt3Ny6Bc1Df5Gh0Jk2"  # a Mistral-like key, not in the environment
    raw = json.dumps({"rationale": f"En-têtes :\nAuthorization: Bearer {unknown}\nsk-proj-AbCdEfGhIjKlMnOpQrSt"})
    masked = redact(raw)
    assert unknown not in masked and "AbCdEfGh" not in masked
    assert json.loads(masked)["rationale"] == f"En-têtes :\nAuthorization: Bearer {MASK}\n{MASK}"


def test_json_keys_ending_like_labels_are_not_labels() -> None:
    line = json.dumps({"dossier_key": "grands-comptes-b1", "input_tokens": 1200, "cle_dossier": "omnicanal-b1-2024"})
    assert redact(line) == line


def test_a_secret_set_after_a_first_redaction_is_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets of the environment are remembered per state of the environment, not once for all."""
    assert redact("plain words") == "plain words"
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "late-secret-value-42")
    assert redact("echo late-secret-value-42") == f"echo {MASK}"
    monkeypatch.delenv("SOME_SERVICE_API_KEY")
    assert redact("echo late-secret-value-42") == "echo late-secret-value-42"


def test_text_too_short_for_any_secret_is_returned_as_is() -> None:
    redactor = Redactor(["abcdefgh"])
    assert redactor.text("abcdefg") == "abcdefg"  # one character short of the shortest secret
    assert redactor.text("abcdefgh") == MASK
