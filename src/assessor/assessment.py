"""One criterion, assessed by a language model: call -> parse -> validate -> verify -> retry.

The model's answer is a JSON object (``prompts/answer_schema.j2``). It is accepted only when
it parses, fits the schema, uses an allowed outcome, and every citation is found verbatim in
the passage it names. Otherwise the model is sent the precise errors and asked again, up to
``max_attempts`` times. After that the criterion is marked for human review with the failed
citations shown as such: nothing is silently dropped. A positive outcome without at least one
verified citation is never shown as such: it becomes « preuves insuffisantes » with a flag.
A model that fails outright (timeout, refusal, truncated output…) leaves the evidence-only
result in place, flagged and marked for review. Every attempt's raw output is kept, with any
secret it repeats (an API key echoed from the request headers…) masked before anything else
reads it (``assessor.redaction``).

Two kinds of error text. The jury reads a short French reason in the rationale (« modèle
injoignable : délai dépassé », « réponse du modèle inexploitable : champ citations absent »),
never a validation message, an exception's name or its text. The detail (pydantic's messages,
the provider's or the client's own words, masked) goes to the attempt log
(``ModelAttempt.errors``, kept in the report and the audit) and, for an invalid answer, to the
model in the retry message.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assessor.chunking import Chunk
from assessor.citations import errors_for_retry, verify_citations
from assessor.errors import AssessorError
from assessor.llm import http_status
from assessor.prompts import PromptLibrary
from assessor.redaction import Redactor, redactor
from assessor.referential import Criterion, CriterionLevel, ScaleLevel
from assessor.results import (
    Citation,
    CriterionResult,
    DossierFlag,
    Flag,
    Mode,
    ModelAttempt,
    Status,
)
from assessor.wording import counted


class CitedQuote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    quote: str


class InjectionReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_id: str
    excerpt: str


class ModelAnswer(BaseModel):
    """The JSON object a model must return for one criterion."""

    model_config = ConfigDict(extra="forbid")

    outcome: str
    rationale: str = Field(min_length=1)
    citations: list[CitedQuote]
    missing: list[str]
    feedback: str
    confidence: float = Field(ge=0, le=1)
    suspected_injections: list[InjectionReport]


UNUSABLE = "réponse du modèle inexploitable"
TRUNCATED = "réponse tronquée"


class ModelFailure(AssessorError):
    """A call that brought no answer (transport error, provider error): not worth a retry.

    ``summary`` is for people: short, French, without the exception's text. ``detail`` (masked)
    is for the attempt log only. A chat model may raise it itself to choose the summary.
    """

    code = "appel-modele-echoue"

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def _json_object(raw: str) -> Any:
    """The JSON object in an answer, tolerating a Markdown code fence around it."""
    text = raw.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:
        text = fenced.group(1)
    if not text.startswith("{"):
        start = text.find("{")
        if start < 0:
            raise ValueError("la réponse ne contient aucun objet JSON")
        text = text[start:]
    decoder = json.JSONDecoder()
    value, end = decoder.raw_decode(text)
    if text[end:].strip():
        raise ValueError("du texte suit l'objet JSON : répondez uniquement par l'objet")
    return value


def _schema_errors(exc: ValidationError) -> list[str]:
    """Each schema error, precisely (pydantic's message included): for the model and the attempt log."""
    errors = []
    for err in exc.errors():
        place = ".".join(str(p) for p in err["loc"]) or "(racine)"
        kind = err["type"]
        if kind == "missing":
            errors.append(f"le champ « {place} » manque")
        elif kind == "extra_forbidden":
            errors.append(f"le champ « {place} » n'est pas prévu par le schéma")
        else:
            errors.append(f"le champ « {place} » est invalide ({err['msg']})")
    return errors


def _schema_summary(exc: ValidationError) -> str:
    """The same errors for people: « champ citations absent ; champ verdict non prévu »."""
    said: list[str] = []
    for err in exc.errors():
        if not err["loc"]:
            said.append("objet JSON attendu")
            continue
        place = ".".join(str(p) for p in err["loc"][:1])  # the top-level field: a jury needs no path
        kind = {"missing": "absent", "extra_forbidden": "non prévu"}.get(err["type"], "invalide")
        said.append(f"champ {place} {kind}")
    kept = list(dict.fromkeys(said))
    return " ; ".join(kept[:3]) + (f" (et {counted(len(kept) - 3, 'autre problème')})" if len(kept) > 3 else "")


def _parse(raw: str) -> tuple[ModelAnswer | None, list[str], str | None]:
    """The answer in ``raw``; or None, the errors (for the model and the log) and their summary (for people)."""
    try:
        return ModelAnswer.model_validate(_json_object(raw)), [], None
    except ValidationError as exc:  # before ValueError, which it is
        return None, _schema_errors(exc), f"{UNUSABLE} : {_schema_summary(exc)}"
    except ValueError as exc:
        return None, [f"JSON invalide : {exc}"], f"{UNUSABLE} : JSON invalide"


def structured_output_hint(provider: str, schema: dict[str, Any], chunk_ids: Sequence[str]) -> dict[str, Any]:
    """What a provider is told about the expected JSON, beyond the prompt.

    OpenAI-style APIs get JSON mode. A local GGUF model gets the full schema as a grammar,
    with the passage ids as the only possible ``chunk_id`` and bounded strings and lists:
    small models otherwise loop until the length limit. The citations are still verified.
    """
    if provider in ("openai", "azure_openai", "compatible", "mistral"):
        return {"response_format": {"type": "json_object"}}
    if provider != "gguf":
        return {}
    # Bounds that fit in a few hundred tokens together, so the answer always closes.
    bounded = json.loads(json.dumps(schema))
    props = bounded["properties"]
    props["rationale"]["maxLength"] = 300
    props["feedback"]["maxLength"] = 150
    for name, items in (("citations", 2), ("missing", 3), ("suspected_injections", 1)):
        props[name]["maxItems"] = items
    props["missing"]["items"]["maxLength"] = 100
    quote = props["citations"]["items"]["properties"]
    quote["quote"]["maxLength"] = 200
    quote["chunk_id"]["enum"] = list(chunk_ids) or ["aucun"]
    props["suspected_injections"]["items"]["properties"]["excerpt"]["maxLength"] = 150
    return {"response_format": {"type": "json_object", "schema": bounded}}


def failure_summary(exc: BaseException) -> str:
    """What people are told when a call to the model failed (from the exception's kind and HTTP
    status, whatever the provider's client): short French, never the exception's text."""
    if isinstance(exc, ModelFailure):
        return exc.summary
    name = type(exc).__name__
    status = http_status(exc)
    if "Timeout" in name:
        return "modèle injoignable : délai dépassé"
    if status in (401, 403) or "Authentication" in name or "Permission" in name:
        return "clé d'API refusée par le fournisseur"
    if status == 429 or "RateLimit" in name:
        return "modèle surchargé : trop de requêtes (429)"
    if "Connect" in name:
        return "modèle injoignable : connexion impossible"
    if isinstance(status, int):
        return f"erreur du fournisseur (HTTP {status})" if status >= 500 else f"requête refusée (HTTP {status})"
    return "erreur du fournisseur"


def _call(
    model: BaseChatModel, messages: list[BaseMessage], scrub: Redactor, hint: Mapping[str, Any]
) -> tuple[AIMessage, float]:
    started = time.perf_counter()
    try:
        reply = model.invoke(messages, **hint)
    except Exception as exc:
        detail = exc.detail if isinstance(exc, ModelFailure) else f"{type(exc).__name__} : {exc}"
        raise ModelFailure(failure_summary(exc), scrub.text(detail)[:500]) from exc
    if not isinstance(reply, AIMessage):
        raise ModelFailure("réponse du modèle inattendue", f"type {type(reply).__name__}")
    return reply, time.perf_counter() - started


def _refusal_or_truncation(reply: AIMessage) -> tuple[str, str] | None:
    """(summary for people, detail for the log) of an answer refused, truncated or filtered."""
    refusal = reply.additional_kwargs.get("refusal") or reply.response_metadata.get("refusal")
    if refusal:
        return "refus du modèle", f"le modèle a refusé de répondre : {refusal}"
    finish = reply.response_metadata.get("finish_reason") or reply.response_metadata.get("stop_reason")
    if finish in ("length", "max_tokens"):
        return TRUNCATED, f"{TRUNCATED} (limite de longueur atteinte)"
    if finish == "content_filter":
        return "réponse bloquée par le filtre du fournisseur", "réponse bloquée par le filtre du fournisseur"
    return None


def assess_with_model(
    criterion: Criterion,
    passages: Sequence[Chunk],
    *,
    model: BaseChatModel,
    model_id: str,
    prompts: PromptLibrary,
    scale_levels: Sequence[ScaleLevel],
    referential_title: str,
    mode: Mode,
    fallback: CriterionResult,
    max_attempts: int = 3,
    secrets: Sequence[str] = (),
    prices: tuple[float, float] = (0.0, 0.0),
    provider: str = "",
) -> tuple[CriterionResult, list[DossierFlag]]:
    """Ask the model about one criterion (see the module docstring).

    ``fallback`` is the evidence-only result, kept when the model gives no usable answer.
    ``secrets`` are masked in everything kept of the model's answers, with the environment's
    (``assessor.redaction``). Returns the result and the injections the model reported.
    """
    rules = _Rules(scale_levels, {c.id: c for c in passages})
    messages: list[BaseMessage] = [
        SystemMessage(content) if role == "system" else HumanMessage(content)
        for role, content in prompts.criterion_messages(criterion, passages, scale_levels, mode, referential_title)
    ]
    hint = structured_output_hint(provider, prompts.answer_schema(scale_levels), [c.id for c in passages])
    exchange = _converse(model, messages, hint, prompts, rules, redactor(secrets), max_attempts)
    common = _usage(exchange.attempts, model_id, prompts.version, prices, passages)
    if exchange.answer is None or exchange.answer.outcome not in rules.allowed:
        reason = exchange.summary or UNUSABLE
        return fallback.model_copy(
            update={
                **common,
                "rationale": f"{reason[:1].upper()}{reason[1:]}. {fallback.rationale}",
                "flags": [*fallback.flags, Flag.MODEL_ERROR],
                "status": Status.NEEDS_REVIEW,
            }
        ), []
    return _proposal(criterion, exchange, rules, common)


class _Rules:
    """What an answer about one criterion must respect: the scale's outcomes (and the two
    non-verdicts), a positive outcome only with a verified quote, quotes from these passages."""

    def __init__(self, scale_levels: Sequence[ScaleLevel], chunks: dict[str, Chunk]) -> None:
        self.allowed = [lv.code for lv in scale_levels] + ["preuves_insuffisantes", "non_evaluable_ecrit"]
        self.positive = {lv.code for lv in scale_levels if lv.positive}
        self.chunks = chunks

    def check(self, answer: ModelAnswer) -> tuple[list[Citation], list[str], str | None]:
        """The answer's citations verified, what to tell the model if it must try again, and why the
        answer is unusable (for people), if it is."""
        errors: list[str] = []
        summary = None
        if answer.outcome not in self.allowed:
            errors.append(
                f"le résultat « {answer.outcome} » n'est pas autorisé ; valeurs possibles : {', '.join(self.allowed)}"
            )
            summary = f"{UNUSABLE} : résultat « {_shortened(answer.outcome)} » non prévu"
        citations = verify_citations([(c.chunk_id, c.quote) for c in answer.citations], self.chunks)
        errors += errors_for_retry(citations)
        if answer.outcome in self.positive and not any(c.verified for c in citations):
            errors.append("un résultat positif exige au moins une citation exacte d'un passage fourni")
        return citations, errors, summary


@dataclass
class _Exchange:
    """What the conversation about one criterion left: every attempt, the last parsed answer and its
    verified citations, and why the last attempt is unusable (for people), if it is."""

    attempts: list[ModelAttempt] = field(default_factory=list)
    answer: ModelAnswer | None = None
    citations: list[Citation] = field(default_factory=list)
    summary: str | None = None


def _converse(
    model: BaseChatModel,
    messages: list[BaseMessage],
    hint: Any,
    prompts: PromptLibrary,
    rules: _Rules,
    scrub: Redactor,
    max_attempts: int,
) -> _Exchange:
    """Call, check, parse, verify; on a fixable problem, tell the model and call again (at most
    ``max_attempts`` calls). A call that brings no answer, or a refusal, ends the conversation."""
    exchange = _Exchange()
    for _ in range(max_attempts):
        try:
            reply, seconds = _call(model, messages, scrub, hint)
        except ModelFailure as exc:
            exchange.summary = exc.summary
            errors = [exc.summary, *([exc.detail] if exc.detail else [])]
            exchange.attempts.append(ModelAttempt(raw_output="", errors=errors))
            break
        raw = scrub.text(_text(reply))
        usage: Mapping[str, Any] = reply.usage_metadata or {}
        attempt = ModelAttempt(
            raw_output=raw,
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            seconds=round(seconds, 3),
        )
        exchange.attempts.append(attempt)
        problem = _refusal_or_truncation(reply)
        if problem:
            exchange.summary, detail = problem
            attempt.errors.append(scrub.text(detail))
            if exchange.summary != TRUNCATED:
                break  # a refusal is not fixed by asking again; a truncated answer may be shorter next time
            messages += [AIMessage(raw), HumanMessage(prompts.retry_message([detail + " : soyez plus concis"]))]
            continue
        answer, errors, exchange.summary = _parse(raw)
        exchange.answer = answer  # the last answer counts, even an unreadable one (then None)
        if answer is not None:
            answer = exchange.answer = scrub.model(answer)  # masked again once parsed: JSON escapes may hide a key
            exchange.citations, found, unusable = rules.check(answer)
            errors += found
            exchange.summary = unusable or exchange.summary
        errors = [scrub.text(e) for e in errors]
        attempt.errors.extend(errors)
        if not errors:
            break
        messages += [AIMessage(raw), HumanMessage(prompts.retry_message(errors))]
    return exchange


def _usage(
    attempts: list[ModelAttempt],
    model_id: str,
    prompt_version: str,
    prices: tuple[float, float],
    passages: Sequence[Chunk],
) -> dict[str, Any]:
    """What every result of this criterion records, usable answer or not: the calls, tokens and cost."""
    tokens_in = sum(a.input_tokens for a in attempts)
    tokens_out = sum(a.output_tokens for a in attempts)
    return {
        "model": model_id,
        "prompt_version": prompt_version,
        "attempts": len(attempts),
        "attempt_log": attempts,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "cost_eur": round((tokens_in * prices[0] + tokens_out * prices[1]) / 1_000_000, 6),
        "evidence_ids": [c.id for c in passages],
    }


def _proposal(
    criterion: Criterion, exchange: _Exchange, rules: _Rules, common: dict[str, Any]
) -> tuple[CriterionResult, list[DossierFlag]]:
    """The model's usable answer as a proposal: flagged where a person must look, a positive outcome
    without a verified quote brought down to « preuves insuffisantes », and the injections it reported."""
    answer, citations, attempts = exchange.answer, exchange.citations, exchange.attempts
    assert answer is not None
    flags: list[Flag] = []
    if exchange.summary is not None and attempts[-1].raw_output == "":
        # A retry failed to reach the model: the earlier answer is shown, flagged, and never cached,
        # so that running again asks the model again.
        flags.append(Flag.MODEL_ERROR)
    outcome = answer.outcome
    rationale = answer.rationale
    if any(not c.verified for c in citations):
        flags.append(Flag.UNVERIFIED_CITATION)
    if outcome in rules.positive and not any(c.verified for c in citations):
        flags.append(Flag.POSITIVE_WITHOUT_EVIDENCE)
        rationale = (
            f"Le modèle proposait « {outcome} » sans citation vérifiée : ramené à « preuves "
            f"insuffisantes ». {rationale}"
        )
        outcome = "preuves_insuffisantes"
    if any(c.ocr and c.verified for c in citations):
        flags.append(Flag.OCR_PAGE)
    chunks = rules.chunks
    reported = [
        DossierFlag(
            flag=Flag.SUSPECTED_INJECTION,
            file=chunks[r.chunk_id].file,
            page=chunks[r.chunk_id].page_start,
            excerpt=r.excerpt[:300],
            chunk_id=r.chunk_id,
        )
        for r in answer.suspected_injections
        if r.chunk_id in chunks
    ]
    if reported:
        flags.append(Flag.SUSPECTED_INJECTION)
    needs_review = bool(attempts[-1].errors) or bool(flags and set(flags) - {Flag.OCR_PAGE})
    return CriterionResult(
        criterion_id=criterion.id,
        criterion_text=criterion.text,
        competency_level=criterion.level is CriterionLevel.COMPETENCY,
        block=criterion.block,
        outcome=outcome,
        rationale=rationale,
        citations=citations,
        missing=answer.missing,
        feedback=answer.feedback,
        confidence=answer.confidence,
        flags=flags,
        status=Status.NEEDS_REVIEW if needs_review else Status.PROPOSED,
        **common,
    ), reported
