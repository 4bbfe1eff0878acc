"""The stub OpenAI-compatible server (tests/stub_llm.py), driven through the real ``openai`` and langchain clients."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from stub_llm import Reply, StubLLMServer, estimate_tokens, openai_error, stub_llm_fixture

stub_llm = stub_llm_fixture()

MESSAGES: list[Any] = [
    {"role": "system", "content": "Réponds en JSON."},
    {"role": "user", "content": "Évalue le critère C1 à partir de l'extrait [chunk-0007]."},
]


@pytest.fixture
def client(stub_llm: StubLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=stub_llm.base_url, api_key="sk-test", max_retries=0) as client:
        yield client


def ask(client: openai.OpenAI, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="stub-model", messages=MESSAGES, **kwargs)


def test_json_content_is_parsed(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    verdict = {
        "criterion": "C1",
        "verdict": "met",
        "citations": [{"chunk_id": "chunk-0007", "quote": "« un extrait »"}],
    }
    stub_llm.enqueue(Reply.json_content(verdict))
    completion = ask(client)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.refusal is None
    assert json.loads(choice.message.content) == verdict
    assert completion.object == "chat.completion"
    assert completion.model == "stub-model"
    assert completion.usage.prompt_tokens == estimate_tokens("\n".join(m["content"] for m in MESSAGES))
    assert completion.usage.completion_tokens == estimate_tokens(choice.message.content)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    stub_llm.assert_consumed()


def test_off_schema_json_and_invented_ids_are_returned_verbatim(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    invented = {
        "criterion": "C9",
        "verdict": "perhaps",
        "citations": [{"chunk_id": "chunk-9999", "quote": "jamais dit"}],
    }
    stub_llm.enqueue(Reply.json_content(invented))
    assert json.loads(ask(client).choices[0].message.content) == invented


def test_malformed_json_is_returned_as_is(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    broken = '```json\n{"criterion": "C1", "verdict": met,}\n```'
    stub_llm.enqueue(Reply.text(broken))
    content = ask(client).choices[0].message.content
    assert content == broken
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_rate_limit_with_retry_after_is_retried(stub_llm: StubLLMServer) -> None:
    stub_llm.enqueue(Reply.status(429, headers={"Retry-After": "0"}), Reply.json_content({"ok": True}))
    with openai.OpenAI(base_url=stub_llm.base_url, api_key="sk-test", max_retries=1) as client:
        completion = ask(client)
    assert json.loads(completion.choices[0].message.content) == {"ok": True}
    assert len(stub_llm.chat_requests) == 2
    assert [r.header("x-stainless-retry-count") for r in stub_llm.chat_requests] == ["0", "1"]


def test_rate_limit_without_retries_raises(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.status(429, headers={"Retry-After": "0"}))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"


def test_server_error_raises_without_retries(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.status(500, body=openai_error("boom", type="server_error")))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client)
    assert "boom" in str(caught.value)
    assert len(stub_llm.chat_requests) == 1


def test_empty_script_answers_with_the_default(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        ask(client)
    stub_llm.default = Reply.text("par défaut")
    assert ask(client).choices[0].message.content == "par défaut"


def test_delay_beyond_the_client_timeout_raises(stub_llm: StubLLMServer) -> None:
    stub_llm.enqueue(Reply.delay(5, then=Reply.json_content({"late": True})))
    started = time.monotonic()
    with (
        openai.OpenAI(base_url=stub_llm.base_url, api_key="sk-test", max_retries=0, timeout=0.3) as client,
        pytest.raises(openai.APITimeoutError),
    ):
        ask(client)
    assert time.monotonic() - started < 3


def test_short_delay_then_answers(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.delay(0.05, then=Reply.text("à temps")))
    assert ask(client).choices[0].message.content == "à temps"


def test_truncated_reply_has_finish_reason_length(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.truncated('{"criterion": "C1", "verdict": "me'))
    choice = ask(client).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content == '{"criterion": "C1", "verdict": "me'


def test_refusal_is_exposed(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.refusal("I can't help with that."))
    choice = ask(client).choices[0]
    assert choice.message.content is None
    assert choice.message.refusal == "I can't help with that."
    assert choice.finish_reason == "stop"


def test_responder_echoes_a_chunk_id_from_the_prompt(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    def echo(request: Any) -> Reply:
        found = re.findall(r"\[(chunk-\d+)\]", request["messages"][-1]["content"])
        return Reply.json_content({"citations": [{"chunk_id": chunk_id} for chunk_id in found]})

    stub_llm.enqueue(Reply.responder(echo))
    assert json.loads(ask(client).choices[0].message.content) == {"citations": [{"chunk_id": "chunk-0007"}]}


def test_a_failing_responder_answers_500_and_is_reported(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.responder(lambda request: 1 / 0))
    with pytest.raises(openai.InternalServerError, match="responder raised"):
        ask(client)
    assert stub_llm.errors and "ZeroDivisionError" in stub_llm.errors[0]


def test_requests_are_recorded(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.json_content({}), Reply.json_content({}))
    schema = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": {"type": "object"}, "strict": True}}
    ask(client, response_format=schema, max_completion_tokens=256, temperature=0)
    ask(client, max_tokens=64)
    first, second = stub_llm.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.header("Authorization") == "Bearer sk-test"
    assert first.headers["content-type"] == "application/json"
    assert first.body["model"] == "stub-model"
    assert first.messages == MESSAGES
    assert first.body["response_format"] == schema
    assert first.body["max_completion_tokens"] == 256
    assert first.body["temperature"] == 0
    assert "max_tokens" not in first.body
    assert second.body["max_tokens"] == 64
    assert "Réponds en JSON." in second.prompt_text


def test_stream_is_rejected_without_consuming_the_script(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    stub_llm.enqueue(Reply.text("kept"))
    with pytest.raises(openai.BadRequestError, match="stream"):
        ask(client, stream=True)
    assert stub_llm.pending == 1
    assert ask(client).choices[0].message.content == "kept"


def test_models_are_listed(stub_llm: StubLLMServer, client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["stub-model"]
    assert stub_llm.requests[-1].path == "/v1/models"


def test_raw_status_body_and_headers(stub_llm: StubLLMServer) -> None:
    stub_llm.enqueue(Reply.status(200, body="not json {", headers={"X-Custom": "1"}))
    response = httpx.post(f"{stub_llm.base_url}/chat/completions", json={"model": "m", "messages": []}, timeout=5)
    assert (response.status_code, response.text, response.headers["x-custom"]) == (200, "not json {", "1")


def test_close_ends_delays_and_leaves_no_threads() -> None:
    with StubLLMServer() as server:
        server.enqueue(Reply.delay(30))
        # A kept-alive connection and a request stuck in a delay must not hold close() up.
        with httpx.Client(timeout=5) as idle:
            idle.get(f"{server.base_url}/models")
            outcome: list[BaseException | None] = []

            def post() -> None:
                try:
                    httpx.post(f"{server.base_url}/chat/completions", json={"messages": []}, timeout=10)
                    outcome.append(None)
                except httpx.HTTPError as exc:
                    outcome.append(exc)

            stuck = threading.Thread(target=post, daemon=True)
            stuck.start()
            deadline = time.monotonic() + 5
            while server.pending and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            server.close()
            assert time.monotonic() - started < 2
            stuck.join(5)
            assert not stuck.is_alive()
            assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError)  # dropped unanswered
    port_prefix = f"stub-llm-{server.port}"
    assert not [t for t in threading.enumerate() if t.name.startswith(port_prefix)]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/models", timeout=1)


def test_langchain_chat_openai(stub_llm: StubLLMServer) -> None:
    from langchain_openai import ChatOpenAI

    stub_llm.enqueue(Reply.json_content({"verdict": "met"}))
    model = ChatOpenAI(model="stub-model", base_url=stub_llm.base_url, api_key="sk-test", max_retries=0)
    message = model.invoke("Bonjour, évalue le critère C1.")
    assert json.loads(message.content) == {"verdict": "met"}
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == estimate_tokens("Bonjour, évalue le critère C1.")
    assert message.usage_metadata["output_tokens"] == estimate_tokens('{"verdict": "met"}')
    assert message.usage_metadata["total_tokens"] == (
        message.usage_metadata["input_tokens"] + message.usage_metadata["output_tokens"]
    )
    (request,) = stub_llm.chat_requests
    assert request.body["model"] == "stub-model"
    assert not request.body.get("stream")
    assert request.header("authorization") == "Bearer sk-test"
