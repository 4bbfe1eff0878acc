"""A stub of OpenAI's Files and Batches endpoints on 127.0.0.1, for the ``--openai-batch`` tests.

    with StubBatchAPI(answer) as api:       # answer(request_body) -> content str | ErrorAnswer
        ... base_url=api.base_url ...

* ``POST /v1/files`` (multipart, purpose ``batch``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``;
* ``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/batches`` (list, newest first).

Each retrieve of a batch moves it one step: ``validating`` → ``in_progress`` → ``finalizing`` →
``completed`` (``hold`` keeps it ``in_progress``). On completion every request line is answered
by ``answer`` (a chat completion with that content, or an error in the error file). ``outcomes``
scripts what happens to the next batches: ``"expire"`` (the first ``expire_answered`` requests
are answered, the others are in the error file as ``batch_expired``) or ``"fail"`` (refused
at validation). A batch's ``in_progress`` transition can be slowed with ``in_progress_polls``;
``dropped`` leaves the first requests out of both output files (a misbehaving provider).
``last_headers`` holds the headers of the last request (API key included), for an ``answer``
that echoes them as a misbehaving model or proxy would.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ErrorAnswer:
    status: int = 500
    message: str = "stub: server error"


Answer = Callable[[dict[str, Any]], "str | ErrorAnswer"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: StubBatchAPI


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header(
            "Content-Type", "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, message: str) -> None:
        self._send(code, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})

    def do_POST(self) -> None:
        api = self.server.api
        path = self.path.split("?", 1)[0]
        body = self._body()
        api._log("POST", path, self.headers.items())
        if path == "/v1/files":
            parts = _multipart(self.headers.get("Content-Type", ""), body)
            if parts.get("purpose", (None, b""))[1] != b"batch" or "file" not in parts:
                self._error(400, "stub: purpose=batch and a file are required")
                return
            self._send(200, api._add_file(parts["file"][0] or "upload.jsonl", parts["file"][1]))
        elif path == "/v1/batches":
            request = json.loads(body or b"{}")
            if request.get("input_file_id") not in api.files:
                self._error(404, "stub: no such file")
                return
            if request.get("endpoint") != "/v1/chat/completions" or request.get("completion_window") != "24h":
                self._error(400, "stub: endpoint /v1/chat/completions and completion_window 24h expected")
                return
            self._send(200, api._create_batch(request))
        else:
            self._error(404, f"stub: no route POST {path}")

    def do_GET(self) -> None:
        api = self.server.api
        path = self.path.split("?", 1)[0]
        api._log("GET", path, self.headers.items())
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content" and parts[2] in api.files:
            self._send(200, api.files[parts[2]]["content"])
        elif parts[:2] == ["v1", "files"] and len(parts) == 3 and parts[2] in api.files:
            self._send(200, api.files[parts[2]]["object"])
        elif parts == ["v1", "batches"]:
            data = [api._public(b) for b in reversed(list(api.batches.values()))]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            self._send(200, {"object": "list", "data": data, "has_more": False, "first_id": first, "last_id": last})
        elif parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in api.batches:
            self._send(200, api._advance(parts[2]))
        else:
            self._error(404, f"stub: no route GET {path}")


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    message = BytesParser(policy=default_policy).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return parts


class StubBatchAPI:
    def __init__(self, answer: Answer, *, model: str = "stub-model") -> None:
        self.answer = answer
        self.model = model
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.outcomes: deque[str] = deque()
        self.expire_answered = 1
        self.dropped = 0  # the first requests of the next batches are left out of both output files
        self.hold = False
        self.in_progress_polls = 1
        self.log: list[tuple[str, str]] = []
        self.last_headers = ""
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.api = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def created(self) -> list[dict[str, Any]]:
        """The batches created, oldest first."""
        with self._lock:
            return list(self.batches.values())

    def requests_of(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        """The request lines of a batch's input file."""
        content = self.files[batch["input_file_id"]]["content"].decode()
        return [json.loads(line) for line in content.splitlines() if line.strip()]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> StubBatchAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Called from the handler threads.

    def _log(self, method: str, path: str, headers: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.log.append((method, path))
            self.last_headers = "\n".join(f"{name}: {value}" for name, value in headers)

    def _next(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-stub-{next(self._ids)}"

    def _add_file(self, name: str, content: bytes, purpose: str = "batch") -> dict[str, Any]:
        file_id = self._next("file")
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }
        with self._lock:
            self.files[file_id] = {"object": obj, "content": content}
        return obj

    def _create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        batch_id = self._next("batch")
        lines = len(self.files[request["input_file_id"]]["content"].splitlines())
        with self._lock:
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "input_file_id": request["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "created_at": int(time.time()),
                "metadata": request.get("metadata"),
                "request_counts": {"total": lines, "completed": 0, "failed": 0},
                "_outcome": self.outcomes.popleft() if self.outcomes else "complete",
                "_polls": 0,
            }
            return self._public(self.batches[batch_id])

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _advance(self, batch_id: str) -> dict[str, Any]:
        with self._lock:
            batch = self.batches[batch_id]
            status = batch["status"]
            if status == "validating":
                if batch["_outcome"] == "fail":
                    batch["status"] = "failed"
                    batch["errors"] = {
                        "object": "list",
                        "data": [{"code": "invalid_request", "message": "stub: the input file is invalid", "line": 1}],
                    }
                else:
                    batch["status"] = "in_progress"
            elif status == "in_progress" and not self.hold:
                batch["_polls"] += 1
                if batch["_polls"] >= self.in_progress_polls:
                    batch["status"] = "finalizing"
            elif status == "finalizing":
                self._finish(batch)
            return self._public(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        requests = self.requests_of(batch)
        expire = batch["_outcome"] == "expire"
        output: list[str] = []
        errors: list[str] = []
        for number, line in enumerate(requests):
            request_id = self._next("req")
            if number < self.dropped:
                continue
            if expire and number >= self.expire_answered:
                errors.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{request_id}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": "batch_expired", "message": "stub: the completion window expired"},
                        }
                    )
                )
                continue
            answer = self.answer(line["body"])
            if isinstance(answer, ErrorAnswer):
                body = {"error": {"message": answer.message, "type": "server_error", "param": None, "code": None}}
                errors.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{request_id}",
                            "custom_id": line["custom_id"],
                            "response": {"status_code": answer.status, "request_id": request_id, "body": body},
                            "error": None,
                        }
                    )
                )
                continue
            prompt = sum(len(str(m.get("content") or "")) for m in line["body"]["messages"]) // 4
            completion = {
                "id": f"chatcmpl-{request_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": line["body"].get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(answer) // 4,
                    "total_tokens": prompt + len(answer) // 4,
                },
            }
            output.append(
                json.dumps(
                    {
                        "id": f"batch_req_{request_id}",
                        "custom_id": line["custom_id"],
                        "response": {"status_code": 200, "request_id": request_id, "body": completion},
                        "error": None,
                    },
                    ensure_ascii=False,
                )
            )
        if output:
            batch["output_file_id"] = self._add_file(
                "output.jsonl", ("\n".join(output) + "\n").encode(), "batch_output"
            )["id"]
        if errors:
            batch["error_file_id"] = self._add_file(
                "errors.jsonl", ("\n".join(errors) + "\n").encode(), "batch_output"
            )["id"]
        batch["request_counts"] = {"total": len(requests), "completed": len(output), "failed": len(errors)}
        batch["status"] = "expired" if expire else "completed"
