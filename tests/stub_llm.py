"""A scriptable stub of an OpenAI-compatible Chat Completions server, for tests without network.

The stub listens on 127.0.0.1 (a free port) in a daemon thread, so that the real HTTP code path
(the ``openai`` client, langchain-openai's ``ChatOpenAI``) can be exercised against timeouts, rate
limits, server errors, malformed or off-schema JSON, truncated output, refusals, and a model (or
proxy) that repeats the request's headers, API key included, in its answer::

    from stub_llm import Reply, StubLLMServer

    with StubLLMServer() as server:
        server.enqueue(
            Reply.status(429, headers={"Retry-After": "0"}),
            Reply.json_content({"criteria": []}),
        )
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1)
        ...
        assert server.requests[-1].header("authorization") == "Bearer sk-test"

Each POST /v1/chat/completions takes the next scripted ``Reply``; when the script is empty the
server's ``default`` reply answers (a 500 "no scripted reply" unless configured). Only
``stream: false`` is supported: ``stream: true`` gets a 400 without consuming the script.

In a test module, ``stub_llm = stub_llm_fixture()`` declares a ``stub_llm`` fixture.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODEL = "stub-model"
JOIN_TIMEOUT = 5.0
MAX_REPLY_DEPTH = 32

Responder = Callable[[Any], "Reply"]
Echo = Callable[[Any, str], "Reply"]


def estimate_tokens(text: str) -> int:
    """The stub's token count: one token per four characters, rounded down."""
    return len(text) // 4


def message_text(body: Any) -> str:
    """The text of a Chat Completions request's messages (string contents and text parts), one per line."""
    if not isinstance(body, Mapping):
        return ""
    parts: list[str] = []
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                part["text"] for part in content if isinstance(part, Mapping) and isinstance(part.get("text"), str)
            )
    return "\n".join(parts)


def openai_error(
    message: str, type: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error body in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _default_error(code: int) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    message = f"stub: HTTP {code} {phrase}"
    if code == 429:
        return openai_error(message, type="requests", code="rate_limit_exceeded")
    if code == 401:
        return openai_error(message, code="invalid_api_key")
    if code >= 500:
        return openai_error(message, type="server_error")
    return openai_error(message)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; the fields are the stub's business."""

    kind: str
    content: str | None = None
    refusal_message: str | None = None
    finish_reason: str = "stop"
    status_code: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    then: Reply | None = None
    function: Responder | None = None
    echo: Echo | None = None
    usage: Mapping[str, int] | None = None

    @classmethod
    def json_content(
        cls,
        data: Any,
        *,
        finish_reason: str = "stop",
        headers: Mapping[str, str] | None = None,
        usage: Mapping[str, int] | None = None,
    ) -> Reply:
        """A completion whose content is ``json.dumps(data)`` (valid JSON, whatever the schema says)."""
        return cls(
            "json",
            content=json.dumps(data, ensure_ascii=False),
            finish_reason=finish_reason,
            headers=dict(headers or {}),
            usage=usage,
        )

    @classmethod
    def text(
        cls,
        content: str,
        *,
        finish_reason: str = "stop",
        headers: Mapping[str, str] | None = None,
        usage: Mapping[str, int] | None = None,
    ) -> Reply:
        """A completion whose content is ``content`` verbatim: malformed JSON, prose, a fenced block..."""
        return cls("text", content=content, finish_reason=finish_reason, headers=dict(headers or {}), usage=usage)

    @classmethod
    def truncated(cls, content: str, *, usage: Mapping[str, int] | None = None) -> Reply:
        """A completion cut at the token limit: ``finish_reason`` is ``"length"``."""
        return cls("truncated", content=content, finish_reason="length", usage=usage)

    @classmethod
    def refusal(cls, message: str) -> Reply:
        """A refusal: ``message.content`` is null, ``message.refusal`` is ``message``, ``finish_reason`` "stop"."""
        return cls("refusal", refusal_message=message)

    @classmethod
    def status(cls, code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
        """A bare HTTP answer: ``body`` is sent as JSON (dict, list), raw (str, bytes), or, when None,
        as an OpenAI error body fitting ``code``. E.g. ``Reply.status(429, headers={"Retry-After": "0"})``."""
        return cls(
            "status", status_code=code, body=_default_error(code) if body is None else body, headers=dict(headers or {})
        )

    @classmethod
    def delay(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Wait ``seconds`` before answering with ``then`` (the server's default reply when None).

        The wait ends early when the server closes; the connection is then dropped without an answer."""
        return cls("delay", seconds=seconds, then=then)

    @classmethod
    def responder(cls, function: Responder) -> Reply:
        """A reply computed from the parsed request body: ``function(request_json) -> Reply``."""
        return cls("responder", function=function)

    @classmethod
    def echo_headers(cls, function: Echo | None = None) -> Reply:
        """A model or proxy that repeats what it received: ``function(request_json, headers)`` makes the
        reply, ``headers`` being the request's headers as sent (« Authorization: Bearer sk-… », one a line).
        Without ``function``, the answer's content is the headers themselves (not JSON)."""
        return cls("echo", echo=function or (lambda body, headers: cls.text(headers)))


@dataclass(frozen=True)
class RecordedRequest:
    """A request received by the stub. Header names are lower-cased; ``body`` is the parsed JSON (or None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def messages(self) -> list[Any]:
        return list(self.body.get("messages") or []) if isinstance(self.body, Mapping) else []

    @property
    def prompt_text(self) -> str:
        return message_text(self.body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() joins the connection threads itself, with a time limit
    stub: StubLLMServer

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"stub-llm-{self.server_address[1]}-conn",
            daemon=True,
        )
        self.stub._track(thread, request)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        self.stub._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):  # a client hanging up is not the stub's error
            self.stub._record_error(f"handler error for {client_address}: {error!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections; close() shuts them down anyway
    error_content_type = "application/json"
    error_message_format = (
        '{"error": {"message": "%(message)s", "type": "invalid_request_error", "param": null, "code": null}}'
    )

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        request = self._record(b"")
        if request.path == "/v1/models":
            stub = self.server.stub
            self._send_json(
                200,
                {"object": "list", "data": [{"id": stub.model, "object": "model", "created": 0, "owned_by": "stub"}]},
            )
        else:
            self._send_json(404, openai_error(f"stub: no route GET {request.path}", code="unknown_url"))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        request = self._record(self.rfile.read(length) if length > 0 else b"")
        if request.path != "/v1/chat/completions":
            self._send_json(404, openai_error(f"stub: no route POST {request.path}", code="unknown_url"))
            return
        body = request.body
        if not isinstance(body, dict):
            self._send_json(400, openai_error("We could not parse the JSON body of your request."))
            return
        if body.get("stream"):
            self._send_json(400, openai_error("stub: stream=true is not supported", param="stream"))
            return
        self._answer(self.server.stub._next_reply(), body)

    def _record(self, raw: bytes) -> RecordedRequest:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            raw=raw,
        )
        self.server.stub._record(request)
        return request

    def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
        stub = self.server.stub
        headers = "\n".join(f"{name}: {value}" for name, value in self.headers.items())
        for _ in range(MAX_REPLY_DEPTH):
            if reply.kind in ("responder", "echo"):
                try:
                    if reply.echo is not None:
                        reply = reply.echo(body, headers)
                    else:
                        assert reply.function is not None
                        reply = reply.function(body)
                except Exception as exc:
                    stub._record_error(f"responder raised {exc!r}")
                    self._send_json(500, openai_error(f"stub: responder raised {exc!r}", type="server_error"))
                    return
                if not isinstance(reply, Reply):
                    stub._record_error(f"responder returned {reply!r}, not a Reply")
                    self._send_json(500, openai_error("stub: responder did not return a Reply", type="server_error"))
                    return
            elif reply.kind == "delay":
                if stub._stopping.wait(reply.seconds):
                    self.close_connection = True  # closing: drop the connection unanswered
                    return
                reply = reply.then if reply.then is not None else stub.default
            else:
                break
        else:
            self._send_json(500, openai_error("stub: too many nested delays or responders", type="server_error"))
            return

        if reply.kind == "status":
            self._send(reply.status_code, reply.body, reply.headers)
            return
        content = reply.content
        answer = content if content is not None else (reply.refusal_message or "")
        prompt_tokens = estimate_tokens(message_text(body))
        completion_tokens = estimate_tokens(answer)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        usage.update(reply.usage or {})
        model = body.get("model")
        completion = {
            "id": f"chatcmpl-stub-{stub._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model if isinstance(model, str) else stub.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": reply.refusal_message},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": usage,
        }
        self._send(200, completion, reply.headers)

    def _send_json(self, code: int, payload: Any) -> None:
        self._send(code, payload, {})

    def _send(self, code: int, payload: Any, headers: Mapping[str, str]) -> None:
        if isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, content_type = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload, ensure_ascii=False).encode(), "application/json"
        extra = {name.lower(): value for name, value in headers.items()}
        try:
            self.send_response(code)
            self.send_header("Content-Type", extra.pop("content-type", content_type))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req-stub-{self.server.stub._next_id()}")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) or the server is closing
            self.close_connection = True


class StubLLMServer:
    """An OpenAI-compatible Chat Completions stub on 127.0.0.1, serving from a daemon thread.

    ``base_url`` is ``http://127.0.0.1:PORT/v1``. Script it with ``enqueue``; read ``requests``.
    Use it as a context manager (or call ``close()``): closing stops the server, drops open
    connections, ends pending delays and joins every thread it started.
    """

    def __init__(self, *, default: Reply | None = None, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        self.default = default or Reply.status(500, openai_error("stub: no scripted reply", type="server_error"))
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._threads: list[threading.Thread] = []
        self._sockets: set[Any] = set()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._closed = False
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.stub = self
        self.port: int = self._httpd.server_address[1]
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"stub-llm-{self.port}", daemon=True
        )
        self._serve_thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> StubLLMServer:
        """Append replies to the script, answered in order by the next chat completion requests."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"expected a Reply, got {reply!r}")
        with self._lock:
            self._script.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, in order (every path and method)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The POST /v1/chat/completions requests received so far."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/chat/completions"]

    def clear(self) -> None:
        """Forget the script, the recorded requests and the errors."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.errors.clear()

    def assert_consumed(self) -> None:
        """Fail when scripted replies were left unused (the code under test made fewer calls than planned)."""
        left = self.pending
        assert left == 0, f"{left} scripted repl{'y' if left == 1 else 'ies'} left unused"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._httpd.shutdown()
        self._serve_thread.join(JOIN_TIMEOUT)
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        leaked = [t.name for t in [self._serve_thread, *threads] if t.is_alive()]
        if leaked:
            raise RuntimeError(f"stub LLM server threads still alive after close: {leaked}")

    def __enter__(self) -> StubLLMServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StubLLMServer({self.base_url!r}, pending={self.pending}, requests={len(self.requests)})"

    # Called from the handler threads.

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _track(self, thread: threading.Thread, sock: Any) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            self._sockets.add(sock)

    def _untrack(self, sock: Any) -> None:
        with self._lock:
            self._sockets.discard(sock)


@contextlib.contextmanager
def serve(**kwargs: Any) -> Iterator[StubLLMServer]:
    """``with serve() as server:`` — the same as ``with StubLLMServer(**kwargs) as server:``."""
    with StubLLMServer(**kwargs) as server:
        yield server


def stub_llm_fixture(*, name: str = "stub_llm", scope: str = "function", **kwargs: Any) -> Any:
    """A pytest fixture yielding a fresh ``StubLLMServer``: ``stub_llm = stub_llm_fixture()`` in a test module
    or a conftest. ``kwargs`` go to ``StubLLMServer``."""
    import pytest

    def fixture() -> Iterator[StubLLMServer]:
        with StubLLMServer(**kwargs) as server:
            yield server

    return pytest.fixture(scope=scope, name=name)(fixture)
