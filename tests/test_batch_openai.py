"""``assessor batch --openai-batch``: the OpenAI Batch API path, against a stub of the Files and
Batches endpoints on 127.0.0.1 (tests/stub_batch_api.py)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from assessor.batch import BatchError, BatchOptions, load_manifest, read_results, run_batch
from assessor.batch.openai_batch import make_openai_client
from assessor.results import Flag, Report, Status
from assessor.settings import LLMSettings, Settings
from fakes import answer, passages_in
from stub_batch_api import ErrorAnswer, StubBatchAPI
from stub_llm import Reply, StubLLMServer
from test_batch import (
    BATCH_MAIN,
    LIBRARY,
    SAMPLES,
    assert_exactly_once,
    cli_env,
    invoke,
    kill_9,
    wait_for,
    write_csv,
)

ROWS = [
    ("grands-comptes-b1", "grands-comptes", "B1"),
    ("activites-b1", "developpement-commercial-activites", "B1"),
]
MODEL = "compatible:stub-model"


def criterion_of(body: dict[str, Any]) -> str:
    found = re.search(r"Critère à examiner : (\S+)", body["messages"][1]["content"])
    assert found, "not a criterion prompt"
    return found.group(1)


def quoting(body: dict[str, Any]) -> str:
    """The first six words of the first passage: a verified quote."""
    messages = body["messages"]
    passages = passages_in([SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])])
    chunk_id, text = next(iter(passages.items()))
    return answer("acquis", [(chunk_id, " ".join(text.split()[:6]))])


def manifest(folder: Path) -> Path:
    rows = [
        {"files": str(SAMPLES / name / "dossier.pdf"), "referential": ref, "blocks": block, "dossier_key": name}
        for name, ref, block in ROWS
    ]
    return write_csv(folder / "manifest.csv", rows)


def written_criteria() -> int:
    return sum(sum(c.written_assessable for c in LIBRARY.get(ref).criteria_of(b)) for _, ref, b in ROWS)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(data_dir: Path) -> Iterator[Settings]:
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    yield Settings(data_dir=data_dir)


def options(api: StubBatchAPI, **llm: Any) -> BatchOptions:
    return BatchOptions(
        llm=LLMSettings(model=MODEL, base_url=api.base_url, concurrency=4, max_retries=0, **llm),
        openai_batch=True,
        poll_interval_s=0.01,
    )


def rounds(run: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT round, batch_id, status, requests, message FROM openai_batches ORDER BY round"
        ).fetchall()


def uploads(api: StubBatchAPI) -> int:
    return sum(1 for method, path in api.log if (method, path) == ("POST", "/v1/files"))


def test_a_batch_round_trip_sends_the_live_prompts_at_half_price(tmp_path: Path, settings: Settings) -> None:
    path = manifest(tmp_path)
    loaded = load_manifest(path, LIBRARY)
    with StubBatchAPI(quoting) as api:
        summary = run_batch(loaded, tmp_path / "run", settings, options(api, price_input_per_mtok=2.0))
        assert summary.done == 2 and not summary.failed and summary.openai_batches == [api.created[0]["id"]]
        (batch,) = api.created
        requests = api.requests_of(batch)
    assert batch["metadata"]["assessor_round"] == "1" and batch["completion_window"] == "24h"
    assert len(requests) == written_criteria()  # every written criterion with passages, once
    assert all(r["method"] == "POST" and r["url"] == "/v1/chat/completions" for r in requests)
    assert all(r["custom_id"] == f"{r['custom_id'].split('::')[0]}::{criterion_of(r['body'])}" for r in requests)
    assert {r["custom_id"].split("::")[0] for r in requests} == {name for name, _, _ in ROWS}
    assert all(r["body"]["response_format"] == {"type": "json_object"} for r in requests)
    results = assert_exactly_once(tmp_path / "run", path)
    batch_reports = {r["dossier_key"]: Report.model_validate(r["report"]) for r in results}
    for report in batch_reports.values():
        assert report.model == MODEL and report.usage.input_tokens > 0
        assert report.usage.cost_eur == pytest.approx(report.usage.input_tokens * 1.0 / 1e6, abs=2e-6)  # half of 2 €
        assert any(c.outcome == "acquis" and c.citations[0].verified for c in report.criteria)

    # The live path sends the same messages and reaches the same results.
    shutil.rmtree(settings.data_dir / "cache")
    with StubLLMServer(default=Reply.responder(lambda body: Reply.text(quoting(body)))) as server:
        live = BatchOptions(llm=LLMSettings(model=MODEL, base_url=server.base_url, concurrency=4))
        run_batch(loaded, tmp_path / "live", settings, live)
        live_bodies = {criterion_of(r.body): r.body for r in server.chat_requests}
    for request in requests:
        live_body = live_bodies[criterion_of(request["body"])]
        assert request["body"]["messages"] == live_body["messages"]
        assert request["body"]["response_format"] == live_body["response_format"]
        assert request["body"]["model"] == live_body["model"] == "stub-model"
    for result in read_results(tmp_path / "live"):
        live_report = Report.model_validate(result["report"])
        batch_report = batch_reports[result["dossier_key"]]
        assert [
            (c.criterion_id, c.outcome, c.status, [q.quote for q in c.citations]) for c in live_report.criteria
        ] == [(c.criterion_id, c.outcome, c.status, [q.quote for q in c.citations]) for c in batch_report.criteria]


def test_invented_quotes_are_caught_and_sent_back_in_a_new_round(tmp_path: Path, settings: Settings) -> None:
    ref = LIBRARY.get("grands-comptes")
    written = [c.id for c in ref.criteria_of("B1") if c.written_assessable]
    always, once = written[0], written[1]

    def invent(body: dict[str, Any]) -> str:
        criterion = criterion_of(body)
        first_attempt = len(body["messages"]) == 2
        if criterion == always or (criterion == once and first_attempt):
            chunk_id = next(iter(passages_in([SystemMessage(""), HumanMessage(body["messages"][1]["content"])])))
            return answer("acquis", [(chunk_id, "le candidat a signé un contrat de dix millions d'euros")])
        return quoting(body)

    path = write_csv(
        tmp_path / "m.csv",
        [
            {
                "files": str(SAMPLES / "grands-comptes-b1" / "dossier.pdf"),
                "referential": "grands-comptes",
                "blocks": "B1",
            }
        ],
    )
    with StubBatchAPI(invent) as api:
        summary = run_batch(load_manifest(path, LIBRARY), tmp_path / "run", settings, options(api, max_attempts=3))
        sizes = [len(api.requests_of(b)) for b in api.created]
        second = api.requests_of(api.created[1])
    assert summary.done == 1 and sizes == [len(written), 2, 1]  # the retries, then the last retry
    retry = next(r for r in second if criterion_of(r["body"]) == once)["body"]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert "dix millions" in retry[2]["content"] and "introuvable" in retry[3]["content"]  # the live retry message

    (result,) = read_results(tmp_path / "run")
    by_id = {c.criterion_id: c for c in Report.model_validate(result["report"]).criteria}
    caught = by_id[always]
    assert caught.outcome == "preuves_insuffisantes" and caught.status is Status.NEEDS_REVIEW
    assert Flag.UNVERIFIED_CITATION in caught.flags and Flag.POSITIVE_WITHOUT_EVIDENCE in caught.flags
    assert caught.attempts == 3 and all(a.errors for a in caught.attempt_log)
    assert [q.verified for q in caught.citations] == [False]  # shown as failed, never dropped
    corrected = by_id[once]
    assert corrected.outcome == "acquis" and corrected.status is Status.PROPOSED and corrected.attempts == 2
    assert corrected.citations[0].verified


def test_a_restart_between_submission_and_completion_does_not_submit_again(tmp_path: Path) -> None:
    path = manifest(tmp_path)
    run = tmp_path / "run"

    def submitted() -> bool:
        if not (run / "run.sqlite").exists():
            return False
        try:
            return any(r[1] for r in rounds(run))
        except sqlite3.Error:
            return False

    with StubBatchAPI(quoting) as api:
        api.hold = True  # the batch stays in progress
        command = [
            sys.executable, "-c", BATCH_MAIN, str(path), "-o", str(run), "--openai-batch", "--poll-interval", "0.02",
            "--llm", MODEL, "--llm-base-url", api.base_url, "--concurrency", "4",
        ]  # fmt: skip
        env = cli_env(tmp_path / "data")
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        wait_for(submitted, process, "the batch is submitted")
        wait_for(
            lambda: sum(1 for m, p in api.log if m == "GET" and p.startswith("/v1/batches/")) >= 3, process, "polls"
        )
        kill_9(process)
        assert [r[2] for r in rounds(run)] == ["in_progress"]
        api.hold = False
        finished = subprocess.run(command, cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300)
        assert finished.returncode == 0, finished.stderr
        assert len(api.created) == 1 and uploads(api) == 1
    assert [r[2] for r in rounds(run)] == ["completed"]
    assert_exactly_once(run, path)


def test_a_crash_right_after_creating_the_batch_finds_it_again(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = manifest(tmp_path)
    loaded = load_manifest(path, LIBRARY)
    with StubBatchAPI(quoting) as api:
        opts = options(api)
        client = make_openai_client(opts.llm, env={})
        create = client.batches.create

        def create_then_die(**kwargs: Any) -> Any:
            create(**kwargs)
            raise KeyboardInterrupt  # killed before the batch id was recorded

        monkeypatch.setattr(client.batches, "create", create_then_die)
        with pytest.raises(KeyboardInterrupt):
            run_batch(loaded, tmp_path / "run", settings, opts, openai_client=client)
        assert [r[1] for r in rounds(tmp_path / "run")] == [None] and len(api.created) == 1
        summary = run_batch(loaded, tmp_path / "run", settings, opts)
        assert summary.done == 2 and len(api.created) == 1 and uploads(api) == 1
    assert_exactly_once(tmp_path / "run", path)


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("expire", "a expiré avant la fin de sa fenêtre de 24 h ; 5 réponses reçues"),
        ("fail", "refusé par le fournisseur : stub: the input file is invalid (ligne 1)"),
    ],
)
def test_an_expired_or_failed_batch_stops_with_a_message_and_resumes(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, outcome: str, message: str
) -> None:
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    monkeypatch.setenv("ASSESSOR_DATA_DIR", str(data_dir))
    path = manifest(tmp_path)
    with StubBatchAPI(quoting) as api:
        api.outcomes.append(outcome)
        api.expire_answered = 5
        args = [path, "-o", tmp_path / "run", "--openai-batch", "--poll-interval", "0.01"]
        args += ["--llm", MODEL, "--llm-base-url", api.base_url]
        code, _, err = invoke(*args)
        assert code == 1 and message in err and "Relancez la même commande" in err and "Traceback" not in err
        assert read_results(tmp_path / "run") == []
        code, _out, err = invoke(*args)
        assert code == 0, err
        sizes = [len(api.requests_of(b)) for b in api.created]
    kept = 5 if outcome == "expire" else 0
    assert sizes == [written_criteria(), written_criteria() - kept]  # only the requests without an answer
    assert [r[2] for r in rounds(tmp_path / "run")] == ["expired" if outcome == "expire" else "failed", "completed"]
    assert_exactly_once(tmp_path / "run", path)


def test_an_error_answer_fails_its_dossier_until_retried(tmp_path: Path, settings: Settings) -> None:
    path = manifest(tmp_path)
    loaded = load_manifest(path, LIBRARY)
    broken = {"on": True}
    target = next(c.id for c in LIBRARY.get("grands-comptes").criteria_of("B1") if c.written_assessable)

    def flaky(body: dict[str, Any]) -> str | ErrorAnswer:
        if broken["on"] and criterion_of(body) == target:
            return ErrorAnswer(500, "stub: the model is overloaded")
        return quoting(body)

    with StubBatchAPI(flaky) as api:
        summary = run_batch(loaded, tmp_path / "run", settings, options(api))
        assert summary.done == 1 and [f.dossier_key for f in summary.failed] == ["grands-comptes-b1"]
        error = summary.failed[0].error
        assert "requête refusée par l'API Batch (HTTP 500)" in error and "overloaded" not in error  # said shortly
        with sqlite3.connect(f"file:{tmp_path / 'run' / 'run.sqlite'}?mode=ro", uri=True) as db:
            answers = [body for (body,) in db.execute("SELECT body FROM batch_responses WHERE ok = 0")]
        assert answers and all("stub: the model is overloaded" in body for body in answers)  # the detail, kept
        broken["on"] = False
        retried = options(api)
        retried.retry_failed = True
        summary = run_batch(loaded, tmp_path / "run", settings, retried)
        assert summary.done == 2 and not summary.failed
        assert [len(api.requests_of(b)) for b in api.created][1:] == [1]  # only the request that failed
    assert_exactly_once(tmp_path / "run", path)


def test_requests_a_completed_batch_left_unanswered_stop_the_run(tmp_path: Path, settings: Settings) -> None:
    loaded = load_manifest(manifest(tmp_path), LIBRARY)
    with StubBatchAPI(quoting) as api:
        api.dropped = 2
        with pytest.raises(BatchError, match=r"2 requête.* sans réponse ni erreur"):
            run_batch(loaded, tmp_path / "run", settings, options(api))
        assert len(api.created) == 1  # not asked again and again


def test_the_batch_api_needs_an_openai_model(tmp_path: Path, settings: Settings) -> None:
    loaded = load_manifest(manifest(tmp_path), LIBRARY)
    wrong = BatchOptions(llm=LLMSettings(model="ollama:qwen2.5:7b"), openai_batch=True)
    with pytest.raises(BatchError, match="n'est ni un modèle openai"):
        run_batch(loaded, tmp_path / "run", settings, wrong)
    assert not (tmp_path / "run").exists()  # refused before anything is written
