"""The OpenAI Batch API path (``--openai-batch``): the same assessment, at half the price, within 24 h.

The live path is reused whole, through a chat model that answers from the batches' outputs
(``ReplayCalls``, the pipeline's model-call seam, gives each criterion a ``ReplayChatModel`` that
knows it by name): each pending dossier is assessed as usual; a call whose answer is known is
answered at once, one whose answer is not yet known is recorded as a request and ends its
attempt (``DeferredCall``); that criterion is then not final, and the dossier stays pending.
The recorded requests are sent as one batch (a *round*); once its output is downloaded, the
dossiers are assessed again. So the requests are exactly the live path's (same prompts, same
JSON mode), and every answer is parsed, validated and verified by ``assessment.assess_with_model``. An answer that fails
validation or verification gets the live path's retry message, sent in the next round: at
most ``max_attempts`` rounds, after which the criterion is marked for review with its failed
citations shown, as on the live path. Results are cached as on the live path.

A round's state is in run.sqlite (tables ``openai_batches``, ``batch_requests``,
``batch_responses``). Its requests are recorded before the upload, its input file id after
it, and its batch id as soon as the batch is created: a restart polls that batch instead of
submitting a new one. If the process was killed between the creation and the record, the
batch is found again by its input file id (``batches.list``). A batch that expires, fails or
is cancelled stops the run with a message; its answers received so far are kept, and the
next start sends the remaining requests in a new round. An error answer for one request
marks its dossier failed (``--retry-failed`` sets the error aside, ``ok = -1``, and sends the
request again). A request that a completed batch left without any answer stops the run
rather than being sent forever.

Costs are computed at half the configured prices (the Batch API's discount). A dossier's
``seconds`` in the results is the local time of the pass that completed it, not the wait.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from assessor.assessment import ModelFailure
from assessor.batch.runner import BatchError, BatchRun, ChatModel, Outcome, _pool, describe, unanswered_error
from assessor.batch.runstore import DossierRow
from assessor.llm import LLMError, ModelSpec, environment, parse_spec
from assessor.pipeline import RateLimiter
from assessor.settings import LLMSettings
from assessor.wording import counted

ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
STATUS_LABELS = {
    "preparing": "en préparation",
    "uploaded": "fichier envoyé",
    "validating": "validation",
    "in_progress": "en cours",
    "finalizing": "finalisation",
    "completed": "terminé",
    "failed": "refusé",
    "expired": "expiré",
    "cancelling": "annulation",
    "cancelled": "annulé",
}
MAX_LISTED_BATCHES = 1000
UNSENT = ("batch_expired", "batch_cancelled")
"""Error codes of requests the Batch API never executed."""


class DeferredCall(ModelFailure):
    """The answer will come from a batch not yet submitted."""

    def __init__(self) -> None:
        super().__init__("réponse attendue d'un lot de l'API Batch")


class BatchRequestError(ModelFailure):
    """The Batch API answered this request with an error.

    People read the message's head (« requête refusée par l'API Batch (HTTP 500) »); the
    provider's words after « : » stay in the attempt log."""

    def __init__(self, message: str) -> None:
        super().__init__(message.split(" : ", 1)[0], message)


@dataclass(frozen=True)
class PendingRequest:
    custom_id: str
    dossier_key: str
    criterion_id: str
    digest: str
    body: str


class ResponseBook:
    """The answers received from every round: request digest -> (ok, completion JSON or error message)."""

    def __init__(self, answers: Mapping[str, tuple[bool, str]]) -> None:
        self.answers = dict(answers)


def check_provider(spec: ModelSpec | None, llm: LLMSettings) -> None:
    if spec is None:
        raise BatchError("--openai-batch demande un modèle : --llm openai:… (ou compatible:… avec --llm-base-url).")
    if spec.provider not in ("openai", "compatible"):
        raise BatchError(
            f"--openai-batch passe par l'API Batch d'OpenAI : « {spec.id} » n'est ni un modèle openai:… ni un "
            "serveur compatible:… (avec --llm-base-url)."
        )


def make_openai_client(llm: LLMSettings, env: dict[str, str] | None = None) -> Any:
    """The ``openai.OpenAI`` client of the Batch API, with the live path's key and address rules."""
    import openai

    env = environment() if env is None else env
    spec = parse_spec(llm.model, llm.base_url, env)
    base_url = llm.base_url or (env.get("OPENAI_BASE_URL") if spec.provider == "openai" else None)
    api_key = env.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        if spec.provider == "openai" and not base_url:
            raise LLMError(
                "aucune clé d'API pour openai : définissez la variable OPENAI_API_KEY (dans l'environnement ou le "
                "fichier .env)."
            )
        api_key = "no-key"
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=llm.timeout_s, max_retries=llm.max_retries)


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    raise TypeError(f"unexpected message type {type(message).__name__}")


def _content(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def _ai_message(completion: Mapping[str, Any]) -> AIMessage:
    """A chat completion, as langchain-openai would have turned it into a message."""
    choices = completion.get("choices") or []
    if not choices or not isinstance(choices[0], Mapping):
        raise BatchRequestError("réponse du lot sans « choices »")
    choice = choices[0]
    message = choice.get("message") or {}
    usage = completion.get("usage") or {}
    tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return AIMessage(
        content=message.get("content") or "",
        additional_kwargs={"refusal": message["refusal"]} if message.get("refusal") else {},
        response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": completion.get("model")},
        usage_metadata={"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
    )


class ReplayChatModel(BaseChatModel):
    """Answers one criterion's calls from the Batch API's outputs; records those it cannot answer yet."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    calls: ReplayCalls
    criterion_id: str

    @property
    def _llm_type(self) -> str:
        return "openai-batch-replay"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = {
            **self.calls.template,
            "messages": [{"role": _role(m), "content": _content(m)} for m in messages],
            **({"response_format": kwargs["response_format"]} if "response_format" in kwargs else {}),
        }
        text = json.dumps(body, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(text.encode()).hexdigest()
        found = self.calls.book.answers.get(digest)
        if found is None:
            self.calls.record(self.criterion_id, digest, text)
            raise DeferredCall()  # this attempt ends here; the criterion is not final (ReplayCalls.final)
        ok, payload = found
        if not ok:
            raise BatchRequestError(payload)
        return ChatResult(generations=[ChatGeneration(message=_ai_message(json.loads(payload)))])


class ReplayCalls:
    """The model-call seam (``pipeline.ModelCalls``) of one dossier on the Batch API: each criterion gets
    a ``ReplayChatModel`` that knows it by name; a criterion with a call still to send is not final,
    so its result is neither cached nor reported (the dossier stays pending)."""

    def __init__(self, book: ResponseBook, template: dict[str, Any], dossier_key: str, spec: ModelSpec) -> None:
        self.book, self.template, self.dossier_key, self.spec = book, template, dossier_key, spec
        self._pending: list[PendingRequest] = []
        self._lock = threading.Lock()

    def model_for(self, criterion_id: str) -> BaseChatModel:
        return ReplayChatModel(calls=self, criterion_id=criterion_id)

    def final(self, criterion_id: str) -> bool:
        with self._lock:
            return all(r.criterion_id != criterion_id for r in self._pending)

    def secrets(self) -> frozenset[str]:
        return frozenset()  # no call leaves this machine from here

    def record(self, criterion_id: str, digest: str, body: str) -> None:
        with self._lock:
            self._pending.append(
                PendingRequest(f"{self.dossier_key}::{criterion_id}", self.dossier_key, criterion_id, digest, body)
            )

    @property
    def pending(self) -> list[PendingRequest]:
        with self._lock:
            return list(self._pending)


def run_openai_batch(run: BatchRun, model: ChatModel, client: Any = None) -> None:
    """Rounds of (assess what can be, submit what cannot, wait, collect) until every dossier is settled."""
    _, spec = model
    llm = run.options.llm
    client = client or make_openai_client(llm)
    template = {"model": spec.name, "temperature": llm.temperature, "max_completion_tokens": llm.max_output_tokens}
    halved = llm.model_copy(
        update={
            "price_input_per_mtok": llm.price_input_per_mtok / 2,
            "price_output_per_mtok": llm.price_output_per_mtok / 2,
        }
    )
    while not run.stop.is_set():
        current = run.store.open_batch()
        if current is not None:
            _drive(run, client, current)
            continue
        requests = _replay(run, spec, template, halved)
        if not requests:
            return
        lost = run.store.unanswered_digests() & {r.digest for r in requests}
        if lost:  # a provider that drops requests from completed batches would otherwise be asked forever
            raise BatchError(
                f"{counted(len(lost), 'requête')} d'un lot terminé {'est restée' if len(lost) < 2 else 'sont restées'} "
                "sans réponse ni erreur dans ses fichiers de "
                "sortie : vérifiez les lots sur la console du fournisseur."
            )
        number = run.store.create_round(
            [(r.custom_id, r.dossier_key, r.criterion_id, r.digest, r.body) for r in requests]
        )
        run.status(f"lot n° {number} : {counted(len(requests), 'requête préparée', 'requêtes préparées')}")


def _replay(run: BatchRun, spec: ModelSpec, template: dict[str, Any], llm: LLMSettings) -> list[PendingRequest]:
    """Assess the pending dossiers from the answers known so far; returns the requests still to send."""
    book = ResponseBook(run.store.responses())
    rows = run.store.dossiers("pending")
    collected: list[PendingRequest] = []
    lock = threading.Lock()
    unlimited = RateLimiter(None)  # no call leaves this machine here
    if rows:
        run.status(f"{counted(len(rows), 'dossier')} à évaluer à partir des réponses reçues")
    with _pool(llm.concurrency, "assessor-batch-replay") as executor:

        def work(row: DossierRow) -> None:
            run.store.start(row.dossier_key)
            replay = ReplayCalls(book, template, row.dossier_key, spec)
            started = time.perf_counter()
            outcome = Outcome()
            try:
                report = run.assess(
                    row, model=replay, llm=llm, executor=executor, limiter=unlimited, live_progress=False
                )
                if replay.pending:
                    outcome.deferred = True
                    with lock:
                        collected.extend(replay.pending)
                else:
                    outcome.report = report
                    outcome.error = unanswered_error(report, "le lot OpenAI")
            except Exception as exc:
                outcome.error = describe(exc)
            run.settle(row, outcome, time.perf_counter() - started, count_criteria=not outcome.deferred)

        run.run_pool(rows, work, llm.concurrency)
    position = {r.dossier_key: r.position for r in rows}
    collected.sort(key=lambda r: (position[r.dossier_key], r.criterion_id))
    unique: list[PendingRequest] = []
    seen: set[str] = set()
    for request in collected:
        custom_id, n = request.custom_id, 1
        while custom_id in seen:
            n += 1
            custom_id = f"{request.custom_id}#{n}"
        seen.add(custom_id)
        unique.append(
            PendingRequest(custom_id, request.dossier_key, request.criterion_id, request.digest, request.body)
        )
    return unique


def _label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _find_batch(client: Any, input_file_id: str) -> Any:
    """The batch already created for this input file, if the process stopped before recording it."""
    for number, batch in enumerate(client.batches.list(limit=100)):
        if batch.input_file_id == input_file_id:
            return batch
        if number >= MAX_LISTED_BATCHES:
            break
    return None


def _drive(run: BatchRun, client: Any, current: dict[str, Any]) -> None:
    """Take an open round to its end: upload, create (or find again), poll, collect, close."""
    number = int(current["round"])
    requests = run.store.round_requests(number)
    run_id = run.store.meta("run_id")
    uploaded_now = False
    if current["input_file_id"] is None:
        lines = [
            json.dumps(
                {"custom_id": c, "method": "POST", "url": ENDPOINT, "body": json.loads(body)}, ensure_ascii=False
            )
            for c, _, _, body in requests
        ]
        data = ("\n".join(lines) + "\n").encode()
        run.status(f"lot n° {number} : envoi de {counted(len(requests), 'requête')}")
        uploaded = client.files.create(file=(f"assessor-{run_id}-{number}.jsonl", data), purpose="batch")
        run.store.update_batch(number, input_file_id=uploaded.id, status="uploaded")
        current["input_file_id"] = uploaded.id
        uploaded_now = True
    batch_id = current["batch_id"]
    if batch_id is None:
        batch = None if uploaded_now else _find_batch(client, current["input_file_id"])
        if batch is None:
            batch = client.batches.create(
                input_file_id=current["input_file_id"],
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"assessor_run": str(run_id), "assessor_round": str(number)},
            )
        batch_id = batch.id
        run.store.update_batch(number, batch_id=batch_id, status=batch.status)
    status = current.get("status")
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status != status:
            status = batch.status
            run.store.update_batch(number, status=status)
        counts = batch.request_counts
        done = f", {counts.completed + counts.failed}/{counts.total} requêtes" if counts and counts.total else ""
        run.status(f"lot OpenAI {batch_id} (n° {number}) : {_label(status)}{done}")
        if status in TERMINAL:
            break
        time.sleep(run.options.poll_interval_s)
    _collect(run, client, number, batch, requests)


def _collect(run: BatchRun, client: Any, number: int, batch: Any, requests: list[tuple[str, str, str, str]]) -> None:
    known = {custom_id: (key, digest) for custom_id, key, digest, _ in requests}
    answers: dict[str, tuple[str, str, str, bool, str]] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        for line in client.files.content(file_id).text.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # its request gets no answer and is sent again in the next round
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if custom_id not in known:
                continue
            key, digest = known[custom_id]
            response = item.get("response") or {}
            body = response.get("body")
            error = item.get("error")
            if isinstance(error, dict) and error.get("code") in UNSENT:
                continue  # never executed: sent again in the next round
            if response.get("status_code") == 200 and isinstance(body, dict) and not error:
                answers[custom_id] = (digest, custom_id, key, True, json.dumps(body, ensure_ascii=False))
            else:
                detail = error or (body.get("error") if isinstance(body, dict) else None) or {}
                message = detail.get("message") if isinstance(detail, dict) else str(detail)
                code = response.get("status_code")
                answers[custom_id] = (
                    digest,
                    custom_id,
                    key,
                    False,
                    f"requête refusée par l'API Batch{f' (HTTP {code})' if code else ''} : {message or 'erreur'}",
                )
    message = None
    if batch.status != "completed":
        answered = sum(1 for a in answers.values() if a[3])
        if batch.status == "failed":
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            detail = "; ".join(
                f"{e.message}" + (f" (ligne {e.line})" if getattr(e, "line", None) else "") for e in errors
            )
            why = f"a été refusé par le fournisseur : {detail or 'aucun détail'}"
        elif batch.status == "expired":
            why = "a expiré avant la fin de sa fenêtre de 24 h"
        else:
            why = "a été annulé"
        message = (
            f"le lot OpenAI {batch.id} (n° {number}) {why} ; {counted(answered, 'réponse reçue')} sur "
            f"{len(requests)}, conservées. Relancez la même commande : les requêtes sans réponse seront "
            "soumises dans un nouveau lot."
        )
    run.store.close_batch(number, batch.status, message, list(answers.values()))
    if message:
        raise BatchError(message)
