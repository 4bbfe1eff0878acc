"""Test doubles for language models: a chat model scripted by a plain function.

``FunctionChatModel(fn)`` answers each call with ``fn(messages, call_number)``: a string (the
answer's text), an ``AIMessage`` (to set finish_reason, refusal…), or an exception to raise.
It is thread-safe, counts its calls, can wait a fixed latency, and reports token usage.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from assessor import evidence_only
from assessor.assessment import assess_with_model
from assessor.chunking import Chunk
from assessor.dossiers import DossierStore
from assessor.prompts import PromptLibrary
from assessor.referential import Referential
from assessor.results import CriterionResult, DossierFlag, Mode

Reply = str | AIMessage | Exception
Script = Callable[[list[BaseMessage], int], Reply]


class FunctionChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script
    latency_s: float = 0.0
    _calls: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _seen: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "function"

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def seen(self) -> list[list[BaseMessage]]:
        return self._seen

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self._calls += 1
            number = self._calls
            self._seen.append(list(messages))
        if self.latency_s:
            time.sleep(self.latency_s)
        reply = self.script(messages, number)
        if isinstance(reply, Exception):
            raise reply
        message = reply if isinstance(reply, AIMessage) else AIMessage(reply)
        prompt = sum(len(str(m.content)) for m in messages) // 4
        message.usage_metadata = {
            "input_tokens": prompt,
            "output_tokens": len(str(message.content)) // 4,
            "total_tokens": prompt + len(str(message.content)) // 4,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])


def passages_in(messages: list[BaseMessage]) -> dict[str, str]:
    """The passages of a criterion prompt: id -> text."""
    user = str(messages[1].content)
    data = user[user.index("<<<DOSSIER") + len("<<<DOSSIER") : user.index("DOSSIER>>>")]
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\[[^\]]+\] )", data.strip()):
        head, _, text = block.partition("\n")
        match = re.match(r"\[([^\]]+)\]", head)
        if match:
            found[match.group(1)] = text.strip()
    return found


def answer(outcome: str = "acquis", quotes: list[tuple[str, str]] | None = None, **extra: Any) -> str:
    """A schema-valid answer as JSON text."""
    body = {
        "outcome": outcome,
        "rationale": "Le passage cité montre l'élément attendu.",
        "citations": [{"chunk_id": cid, "quote": q} for cid, q in (quotes or [])],
        "missing": [],
        "feedback": "",
        "confidence": 0.8,
        "suspected_injections": [],
    }
    body.update(extra)
    return json.dumps(body, ensure_ascii=False)


def quoting_first_passage(outcome: str = "acquis") -> Script:
    """A model that quotes the first six words of the first passage it is given."""

    def script(messages: list[BaseMessage], number: int) -> Reply:
        passages = passages_in(messages)
        chunk_id, text = next(iter(passages.items()))
        return answer(outcome, [(chunk_id, " ".join(text.split()[:6]))])

    return script


def assess_criterion(
    store: DossierStore,
    dossier_id: str,
    ref: Referential,
    block: str,
    model: BaseChatModel,
    model_id: str,
    *,
    index: int = 0,
    k: int = 5,
    max_attempts: int = 3,
    provider: str = "",
    prices: tuple[float, float] = (0.0, 0.0),
) -> tuple[CriterionResult, list[DossierFlag]]:
    """One criterion of a block through ``assess_with_model``, as the pipeline does it."""
    siblings = ref.criteria_of(block)
    criterion = siblings[index]
    retriever = store.retriever(dossier_id)
    found = retriever.search_criterion(criterion, k=k, siblings=siblings)
    passages = [p.chunk for p in found]
    return assess_with_model(
        criterion,
        passages,
        model=model,
        model_id=model_id,
        prompts=PromptLibrary(),
        scale_levels=ref.scale.levels,
        referential_title=ref.title,
        mode=Mode.JURY,
        fallback=evidence_only.assess(criterion, found),
        max_attempts=max_attempts,
        provider=provider,
        prices=prices,
    )


def make_chunk(
    chunk_id: str,
    text: str,
    *,
    file: str = "dossier.pdf",
    page: int = 3,
    headings: list[str] | None = None,
    ocr: bool = False,
) -> Chunk:
    """A one-page passage of ``file``, for tests that need a chunk without ingesting a file."""
    return Chunk(
        id=chunk_id,
        file=file,
        file_sha256="ab" * 32,
        page_start=page,
        page_end=page,
        paged=True,
        locator=f"page {page}",
        char_start=0,
        char_end=len(text),
        heading_path=headings or [],
        text=text,
        ocr=ocr,
    )
