"""No API key is ever written: a model that echoes its request headers, through every writer.

The stub OpenAI-compatible server and the stub Batch API answer with the headers they received
(« Authorization: Bearer sk-test-… »), inside every text field of the answer JSON and as a
non-JSON answer. Then ``assessor assess`` (JSON, Markdown and HTML reports), ``assessor batch``
(live and ``--openai-batch``) and a review created from the reports run; every file they left
and every row of every SQLite table is searched for the key, in clear, URL-encoded or base64,
and so is what the commands printed.

Each command runs in its own process, as it would for a user: chromadb's HNSW files contain
uninitialised heap memory, so a process that ingests a dossier after receiving model answers
writes fragments of those (raw HTTP bodies, before any redaction) into the index.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import assessor
from assessor.redaction import MASK
from assessor.results import ModelAttempt, Report
from assessor.review.domain import Role, User
from assessor.review.store import ReviewStore
from reviewdata import model_report
from stub_batch_api import ErrorAnswer, StubBatchAPI
from stub_llm import Reply, StubLLMServer
from test_batch import SAMPLES, write_csv

SAMPLE = "omnicanal-b1"
REFERENTIAL = "dev-commercial-omnicanal"
JURY = User(username="jury1", display_name="Dupont Marie", role=Role.JURY)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaked(headers: str) -> str:
    """What a header-echoing model writes: the headers, and the key they carry re-encoded."""
    found = re.search(r"(?im)^authorization: bearer (\S+)$", headers)
    key = found.group(1) if found else "sans-clé"
    return (
        f"En-têtes reçus :\n{headers}\nx-api-key: {key}\nAuthorization: Basic {b64('jury:' + key)}\n"
        f"clé encodée : {quote(key, safe='')} {b64(key)}"
    )


def echo_answer(prompt: str, headers: str) -> str:
    """An answer whose every text field repeats the headers; the citation names a real passage."""
    found = re.search(r"^\[([^\]]+)\] ", prompt, re.M)
    chunk_id = found.group(1) if found else "c-inconnu"
    text = leaked(headers)
    return json.dumps(
        {
            "outcome": "acquis",
            "rationale": f"Le critère est démontré. {text}",
            "citations": [{"chunk_id": chunk_id, "quote": text}],
            "missing": [text],
            "feedback": text,
            "confidence": 0.5,
            "suspected_injections": [{"chunk_id": chunk_id, "excerpt": text}],
        },
        ensure_ascii=False,
    )


def echoing_model() -> Reply:
    """Every other call a JSON answer full of headers, the others the headers as plain text."""
    calls = itertools.count()

    def answer(body: dict[str, Any], headers: str) -> Reply:
        if next(calls) % 2:
            return Reply.text(f"Je ne peux pas répondre en JSON. {leaked(headers)}")
        return Reply.text(echo_answer(body["messages"][1]["content"], headers))

    return Reply.echo_headers(answer)


def forms(key: str) -> dict[str, bytes]:
    return {
        "in clear": key.encode(),
        "URL-encoded": quote(key, safe="").encode(),
        "base64": b64(key).encode(),
        "base64 with a user": b64("jury:" + key).encode(),
    }


def sqlite_values(path: Path) -> Iterator[tuple[str, bytes]]:
    """(table, value) for every value of every row of every table of a SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str):
                        yield table, value.encode()
                    elif isinstance(value, bytes):
                        yield table, value


def leaks(root: Path, key: str) -> list[str]:
    """Where the key (in any of its forms) is found under ``root``: files, then database rows."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(root)} ({name})" for name, form in forms(key).items() if form in data]
        if data.startswith(b"SQLite format 3\0"):
            for table, value in sqlite_values(path):
                found += [
                    f"{path.relative_to(root)}, table {table} ({name})"
                    for name, form in forms(key).items()
                    if form in value
                ]
    return sorted(set(found))


def cli(key: str, cwd: Path, data_dir: Path, *args: str | Path) -> str:
    """``assessor ARGS`` in a process of its own, the key in its environment; what it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSESSOR_", "OPENAI_"))}
    env.update(
        ASSESSOR_DATA_DIR=str(data_dir),
        OPENAI_API_KEY=key,
        PYTHONPATH=str(Path(assessor.__file__).parents[1]),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    command = [sys.executable, "-c", "from assessor.cli import main; main()", *map(str, args)]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_a_key_echoed_by_the_model_is_written_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sk-test-{secrets.token_urlsafe(24)}"
    monkeypatch.setenv("OPENAI_API_KEY", key)  # the review store's process too
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    dossier = SAMPLES / SAMPLE / "dossier.pdf"
    out = tmp_path / "out"
    manifest = write_csv(
        tmp_path / "manifest.csv",
        [{"files": str(dossier), "referential": REFERENTIAL, "blocks": "B1", "candidate_id": "c42"}],
    )
    model = ["--llm", "compatible:stub-model", "--llm-base-url"]
    console = []
    with StubLLMServer(default=echoing_model()) as server:
        # (a) assessor assess, three report formats.
        for suffix in ("json", "md", "html"):
            assess = ["assess", dossier, "-r", REFERENTIAL, "-b", "B1", "-o", out / f"rapport.{suffix}"]
            console.append(cli(key, tmp_path, tmp_path / "data-assess", *assess, *model, server.base_url))
        # (b) assessor batch, live.
        batch = ["batch", manifest, "-o", out / "run"]
        console.append(cli(key, tmp_path, tmp_path / "data-batch", *batch, *model, server.base_url))
        sent = [r.header("authorization") for r in server.chat_requests]
    assert sent and set(sent) == {f"Bearer {key}"}, "the stub must have received the key to echo it"

    # (b) assessor batch --openai-batch: answers, and some error answers, repeat the headers.
    calls = itertools.count()

    def batch_answer(body: dict[str, Any]) -> str | ErrorAnswer:
        if next(calls) % 5 == 0:
            return ErrorAnswer(401, f"Incorrect API key provided. {leaked(api.last_headers)}")
        return echo_answer(body["messages"][1]["content"], api.last_headers)

    with StubBatchAPI(batch_answer) as api:
        batch = ["batch", manifest, "-o", out / "run-api", "--openai-batch", "--poll-interval", "0.01"]
        console.append(cli(key, tmp_path, tmp_path / "data-openai-batch", *batch, *model, api.base_url))
        assert f"Bearer {key}" in api.last_headers

    # (c) reviews of these reports, every model attempt in the audit.
    reports = [Report.model_validate_json((out / "rapport.json").read_text(encoding="utf-8"))]
    reports += [
        Report.model_validate(json.loads(line)["report"])
        for line in (out / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    store = ReviewStore(f"sqlite:///{tmp_path / 'data-assess' / 'assessor.db'}")
    try:
        for report in reports:
            store.create_review(report, user=JURY, candidate="Candidat 042")
    finally:
        store.dispose()

    found = leaks(tmp_path, key)
    assert not found, f"the key was written in {len(found)} places:\n" + "\n".join(found)
    assert not [name for name, form in forms(key).items() if form.decode() in "".join(console)]
    report_text = (out / "rapport.json").read_text(encoding="utf-8")
    assert f"authorization: bearer {MASK}" in report_text.lower()  # the echo went through, masked


def test_the_audit_masks_a_key_kept_in_an_older_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sk-test-{secrets.token_urlsafe(24)}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.chdir(tmp_path)
    report = model_report(tmp_path / "data")
    attempt = ModelAttempt(raw_output=f"authorization: Bearer {key}", errors=[f"clé {quote(key)} refusée"])
    first = report.criteria[0].model_copy(update={"attempt_log": [attempt]})
    report = report.model_copy(update={"criteria": [first, *report.criteria[1:]]})  # as cached before masking
    store = ReviewStore(f"sqlite:///{tmp_path / 'assessor.db'}")
    try:
        review = store.create_review(report, user=JURY, candidate="Candidat 042")
        entries = store.audit_log(review.summary.id)
        assert store.verify() == []  # the chain covers what is stored: the masked entries
    finally:
        store.dispose()
    logged = json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False)
    assert f"authorization: Bearer {MASK}" in logged and f"clé {MASK} refusée" in logged
    assert not [name for name, form in forms(key).items() if form.decode() in logged]
