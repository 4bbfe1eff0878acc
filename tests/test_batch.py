"""Batch runs (``assessor batch``): manifests, the run folder, the global bound on model calls,
failed dossiers, and resuming after ``kill -9`` with every dossier assessed exactly once."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from typer.testing import CliRunner

from assessor.batch import BatchError, BatchOptions, ManifestError, load_manifest, read_results, run_batch
from assessor.batch.runstore import RunLocked, RunStore
from assessor.cli import common
from assessor.cli.batch import batch
from assessor.library import Library
from assessor.llm import ModelSpec
from assessor.pipeline import RateLimiter
from assessor.results import Report
from assessor.settings import LLMSettings, Settings
from fakes import FunctionChatModel, Reply, answer, passages_in, quoting_first_passage
from stub_llm import Reply as StubReply, StubLLMServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_dossiers"
SPEC = ModelSpec("fake", "function", remote=False)
SAMPLE_ROWS = [
    ("omnicanal-b1", "dev-commercial-omnicanal", "B1"),
    ("activites-b1", "developpement-commercial-activites", "B1"),
    ("grands-comptes-b1", "grands-comptes", "B1"),
]
LIBRARY = Library.from_settings(Settings())
BATCH_MAIN = "from assessor.cli.batch import main; main()"


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def sample_manifest(folder: Path, *, copies: int = 0) -> Path:
    """The three sample dossiers, block B1 (``copies``: also that many Markdown copies of each source,
    with different content, hence different passages and no shared cached result)."""
    rows = [
        {"files": str(SAMPLES / name / "dossier.pdf"), "referential": ref, "blocks": block, "candidate_id": name}
        for name, ref, block in SAMPLE_ROWS
    ]
    if copies:
        rows = []
        for n in range(copies):
            for name, ref, block in SAMPLE_ROWS:
                target = folder / "copies" / f"{name}-{n}.md"
                target.parent.mkdir(parents=True, exist_ok=True)
                text = (SAMPLES / name / "source.md").read_text(encoding="utf-8")
                target.write_text(f"Copie n° {n}\n\n{text}", encoding="utf-8")
                rows.append({"files": f"copies/{target.name}", "referential": ref, "blocks": block})
    return write_csv(folder / "manifest.csv", rows)


def criteria_count(ref: str, block: str) -> int:
    return len(LIBRARY.get(ref).criteria_of(block))


def run_db(run: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT dossier_key, status, error, report, runs, done_seq FROM dossiers ORDER BY position"
        ).fetchall()


def assert_exactly_once(run: Path, manifest: Path) -> list[dict[str, Any]]:
    """Every dossier of the manifest done once, in results.jsonl and run.sqlite, with the same report."""
    entries = load_manifest(manifest, LIBRARY).entries
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    results = [json.loads(line) for line in lines]
    keys = [r["dossier_key"] for r in results]
    assert sorted(keys) == sorted(e.dossier_key for e in entries)
    assert len(set(keys)) == len(keys)
    rows = {r[0]: r for r in run_db(run)}
    assert {r[1] for r in rows.values()} == {"done"}
    assert sorted(r[5] for r in rows.values()) == list(range(1, len(entries) + 1))
    by_entry = {e.dossier_key: e for e in entries}
    for result in results:
        assert set(result) == {"dossier_key", "candidate_id", "files", "report", "seconds"}
        report = Report.model_validate(result["report"])
        assert report == Report.model_validate_json(rows[result["dossier_key"]][3])
        entry = by_entry[result["dossier_key"]]
        assert result["files"] == list(entry.files) and result["candidate_id"] == entry.candidate_id
        ids = [c.criterion_id for c in report.criteria]
        assert len(ids) == len(set(ids)) == sum(criteria_count(entry.referential, b) for b in entry.blocks)
    return results


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the module (the sample dossiers are ingested once)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(data_dir: Path) -> Iterator[Settings]:
    shutil.rmtree(data_dir / "cache", ignore_errors=True)  # no cached model result from another test
    yield Settings(data_dir=data_dir)


# ---------------------------------------------------------------------------------------------- manifests


def problems_of(path: Path) -> list[tuple[int | None, str]]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, LIBRARY)
    return [(p.line, p.message) for p in caught.value.problems]


def test_every_manifest_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    pdf = SAMPLES / "omnicanal-b1" / "dossier.pdf"
    rows = [
        {"files": "absent.pdf", "referential": "dev-commercial-omnicanal", "blocks": "B1", "dossier_key": "a"},
        {"files": str(pdf), "referential": "dev-commercial-omnicanl", "blocks": "B1", "dossier_key": "b"},
        {"files": str(pdf), "referential": "dev-commercial-omnicanal", "blocks": "B1|B9", "dossier_key": "c"},
        {"files": str(pdf), "referential": "dev-commercial-omnicanal", "blocks": "B2", "dossier_key": "c"},
        {"files": "", "referential": "grands-comptes", "blocks": "B1", "dossier_key": "d"},
        {"files": f"{pdf}|{pdf}", "referential": "grands-comptes", "blocks": "", "dossier_key": "e"},
        {"files": str(pdf), "referential": "grands-comptes", "blocks": "", "dossier_key": "fine"},
    ]
    found = problems_of(write_csv(tmp_path / "m.csv", rows))
    assert [line for line, _ in found] == [2, 3, 4, 5, 6, 7]
    messages = dict(found)
    assert "fichier introuvable : absent.pdf" in messages[2]
    assert "introuvable" in messages[3] and "dev-commercial-omnicanal" in messages[3]  # with the suggestion
    assert "B9" in messages[4]
    assert "« c » déjà utilisée ligne 4" in messages[5]
    assert "aucun fichier" in messages[6]
    assert "même nom" in messages[7]


def test_jsonl_problems_and_header_problems(tmp_path: Path) -> None:
    pdf = str(SAMPLES / "omnicanal-b1" / "dossier.pdf")
    lines = [
        json.dumps({"files": [pdf], "referential": "grands-comptes", "blocks": ["B1"]}),
        "{pas du json",
        "[1, 2]",
        json.dumps({"files": [pdf], "referential": "grands-comptes", "blocks": 3}),
        json.dumps({"files": [pdf], "referential": "grands-comptes", "candidat": "x"}),
        "",
        json.dumps({"files": [pdf], "referential": "grands-comptes", "blocks": "B1"}),
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems_of(path)
    assert [line for line, _ in found] == [2, 3, 4, 5, 7]
    assert "JSON invalide" in found[0][1] and "objet JSON" in found[1][1] and "blocks" in found[2][1]
    assert "candidat" in found[3][1] and "déjà utilisée ligne 1" in found[4][1]

    header = write_csv(tmp_path / "h.csv", [{"fichiers": pdf, "referential": "grands-comptes"}])
    assert problems_of(header) == [
        (
            1,
            "en-tête : colonne inconnue : fichiers ; colonne obligatoire absente : files "
            "(colonnes possibles : files, referential, blocks, candidate_id, dossier_key)",
        )
    ]
    empty = tmp_path / "vide.csv"
    empty.write_text("files,referential\n", encoding="utf-8")
    assert problems_of(empty) == [(None, "aucun dossier dans le manifeste")]


def test_a_manifest_is_read_relative_to_its_folder_with_either_separator(tmp_path: Path) -> None:
    folder = tmp_path / "lot"
    (folder / "pieces").mkdir(parents=True)
    shutil.copy(SAMPLES / "manager-b2" / "dossier.pdf", folder / "pieces" / "dossier.pdf")
    shutil.copy(SAMPLES / "manager-b2" / "dossier.docx", folder / "pieces" / "dossier.docx")
    rows = [
        {
            "files": "pieces/dossier.pdf|pieces/dossier.docx",
            "referential": "manager-developpement-commercial",
            "blocks": "b2,B1",
            "candidate_id": " 42 ",
        },
        {"files": "pieces/dossier.pdf", "referential": "grands-comptes", "blocks": "", "candidate_id": ""},
    ]
    manifest = load_manifest(write_csv(folder / "m.csv", rows, delimiter=";"), LIBRARY)
    first, second = manifest.entries
    assert first.dossier_key == "pieces/dossier.pdf|pieces/dossier.docx" and first.candidate_id == "42"
    assert first.paths == (
        (folder / "pieces" / "dossier.pdf").resolve(),
        (folder / "pieces" / "dossier.docx").resolve(),
    )
    assert first.blocks == ("B2", "B1") and first.line == 2
    assert second.blocks == ("B1", "B2", "B3", "B4") and second.candidate_id is None  # no block: every block
    assert len(manifest.sha256) == 64


def test_the_cli_refuses_a_bad_manifest_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSOR_DATA_DIR", str(tmp_path / "data"))
    manifest = write_csv(
        tmp_path / "m.csv",
        [
            {"files": "absent.pdf", "referential": "grands-comptes", "blocks": "B1"},
            {"files": "autre.pdf", "referential": "inconnu", "blocks": "B1"},
        ],
    )
    code, _, err = invoke(manifest, "-o", str(tmp_path / "run"))
    assert code == 1
    assert "m.csv:2" in err and "m.csv:3" in err and "absent.pdf" in err and "inconnu" in err
    assert "Rien n'a été écrit" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


def invoke(*args: object) -> tuple[int, str, str]:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(batch)
    with pytest.MonkeyPatch.context() as patch:  # a wide console: table cells are not wrapped, whoever runs pytest
        patch.setattr(common.console, "width", 200)
        patch.setattr(common.err_console, "width", 200)
        # No root command here to clear --data-dir left by another test's CLI run: the environment decides.
        patch.setattr(common, "overrides", {})
        result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())  # messages wrap at the console's width


# ---------------------------------------------------------------------------------------------- runs


def test_a_small_batch_writes_one_result_per_dossier(tmp_path: Path, settings: Settings) -> None:
    manifest_path = sample_manifest(tmp_path)
    manifest = load_manifest(manifest_path, LIBRARY)
    model = FunctionChatModel(script=quoting_first_passage())
    run = tmp_path / "run"
    options = BatchOptions(llm=LLMSettings(concurrency=4, price_input_per_mtok=1.0))
    summary = run_batch(manifest, run, settings, options, chat_model=(model, SPEC))
    assert summary.done == summary.total == 3 and summary.assessed_now == 3 and not summary.failed
    assert summary.complete and summary.model_calls == model.calls > 0 and summary.cost_eur > 0
    results = assert_exactly_once(run, manifest_path)
    assert read_results(run) == results
    assert {r["candidate_id"] for r in results} == {name for name, _, _ in SAMPLE_ROWS}
    for result in results:
        report = Report.model_validate(result["report"])
        assert report.model == "fake:function" and not report.evidence_only
        assert any(c.outcome == "acquis" and c.citations[0].verified for c in report.criteria)
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["manifest"] == {"path": str(manifest_path.resolve()), "sha256": manifest.sha256, "dossiers": 3}
    assert info["model"] == "fake:function" and info["prompt_version"] and info["mode"] == "jury"
    assert info["llm"]["concurrency"] == 4 and info["started_at"] and info["finished_at"]
    assert info["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 0}

    # Started again: nothing left to do, nothing assessed twice.
    calls = model.calls
    again = run_batch(manifest, run, settings, options, chat_model=(model, SPEC))
    assert again.assessed_now == 0 and again.done == 3 and model.calls == calls
    assert assert_exactly_once(run, manifest_path) == results

    # A change that affects the results is refused, and says what changed.
    other = BatchOptions(llm=LLMSettings(concurrency=4, price_input_per_mtok=1.0, temperature=0.5))
    with pytest.raises(Exception, match=r"llm.temperature : 0.0 → 0.5"):
        run_batch(manifest, run, settings, other, chat_model=(model, SPEC))
    manifest_path.write_text(manifest_path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(Exception, match="contenu du manifeste"):
        run_batch(load_manifest(manifest_path, LIBRARY), run, settings, options, chat_model=(model, SPEC))
    # The concurrency may change.
    run_batch(
        manifest,
        run,
        settings,
        BatchOptions(llm=LLMSettings(concurrency=2, price_input_per_mtok=1.0)),
        chat_model=(model, SPEC),
    )


class Gauge:
    """Model calls in flight: the most at once, and the most distinct dossiers at once.

    A call waits (up to a few seconds) for a call of another dossier to be in flight too, so that
    overlap does not depend on how fast this machine ingests: if the batch assessed dossiers one
    after the other, the wait would time out and ``peak_dossiers`` stay 1.
    """

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.calls: list[str] = []
        self.peak = 0
        self.peak_dossiers = 0

    def script(self, messages: list[BaseMessage], number: int) -> Reply:
        dossier = next(iter(passages_in(messages)))[:12]  # a chunk id starts with its file's sha256
        with self.lock:
            self.calls.append(dossier)
            self.peak = max(self.peak, len(self.calls))
            self.peak_dossiers = max(self.peak_dossiers, len(set(self.calls)))
            self.lock.notify_all()
            if self.peak_dossiers < 2:
                self.lock.wait_for(lambda: self.peak_dossiers >= 2, timeout=3)
        time.sleep(0.02)
        with self.lock:
            self.calls.remove(dossier)
        return quoting_first_passage()(messages, number)


def test_the_bound_on_model_calls_holds_across_dossiers(tmp_path: Path, settings: Settings) -> None:
    gauge = Gauge()
    model = FunctionChatModel(script=gauge.script)
    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    summary = run_batch(
        manifest, tmp_path / "run", settings, BatchOptions(llm=LLMSettings(concurrency=3)), chat_model=(model, SPEC)
    )
    assert summary.done == 3 and model.calls > 30
    assert gauge.peak == 3  # never more than the bound, for the whole batch (each dossier alone would use 3)
    assert gauge.peak_dossiers >= 2  # the dossiers are assessed at the same time


def test_one_rate_limiter_for_the_whole_batch(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[RateLimiter] = []
    waits = []

    class Recording(RateLimiter):
        def __init__(self, per_minute: float | None) -> None:
            super().__init__(per_minute)
            made.append(self)

        def wait(self) -> None:
            waits.append(self)
            super().wait()

    monkeypatch.setattr("assessor.batch.runner.RateLimiter", Recording)
    monkeypatch.setattr("assessor.pipeline.RateLimiter", Recording)
    model = FunctionChatModel(script=quoting_first_passage())
    llm = LLMSettings(concurrency=4, requests_per_minute=60_000)
    run_batch(load_manifest(sample_manifest(tmp_path), LIBRARY), tmp_path / "run", settings, BatchOptions(llm=llm),
              chat_model=(model, SPEC))  # fmt: skip
    assert len(made) == 1 and made[0].interval == pytest.approx(0.001)
    assert len(waits) == model.calls and set(waits) == set(made)  # every call of every dossier waited on it
    info = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert info["sessions"][0]["requests_per_minute"] == 60_000


def test_failed_dossiers_are_recorded_and_retried_on_request(tmp_path: Path, settings: Settings) -> None:
    broken = tmp_path / "illisible.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00\xff" * 50)
    rows = [
        {"files": str(SAMPLES / "grands-comptes-b1" / "dossier.pdf"), "referential": "grands-comptes", "blocks": "B1"},
        {"files": str(broken), "referential": "grands-comptes", "blocks": "B1", "dossier_key": "cassé"},
    ]
    manifest_path = write_csv(tmp_path / "m.csv", rows)
    manifest = load_manifest(manifest_path, LIBRARY)
    model = FunctionChatModel(script=quoting_first_passage())
    run = tmp_path / "run"
    options = BatchOptions(llm=LLMSettings(concurrency=2))
    summary = run_batch(manifest, run, settings, options, chat_model=(model, SPEC))
    assert summary.done == 1 and [(f.dossier_key, f.line) for f in summary.failed] == [("cassé", 3)]
    assert "illisible.pdf" in summary.failed[0].error
    assert [r["dossier_key"] for r in read_results(run)] == [rows[0]["files"]]
    statuses = {r[0]: (r[1], r[2]) for r in run_db(run)}
    assert statuses["cassé"][0] == "failed" and "illisible.pdf" in statuses["cassé"][1]

    # Resumed without --retry-failed: the failure stays; with it, the repaired file is assessed.
    assert run_batch(manifest, run, settings, options, chat_model=(model, SPEC)).failed
    shutil.copy(SAMPLES / "grands-comptes-b1" / "dossier.pdf", broken)
    calls = model.calls
    retried = BatchOptions(llm=LLMSettings(concurrency=2), retry_failed=True)
    summary = run_batch(manifest, run, settings, retried, chat_model=(model, SPEC))
    assert summary.done == 2 and not summary.failed and summary.assessed_now == 1
    assert model.calls == calls  # the same text as the other dossier: its answers were cached
    assert_exactly_once(run, manifest_path)


def test_a_model_that_does_not_answer_fails_the_dossier(tmp_path: Path, settings: Settings) -> None:
    def script(messages: list[BaseMessage], number: int) -> Reply:
        return ConnectionError("connexion refusée")

    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    model = FunctionChatModel(script=script)
    summary = run_batch(
        manifest, tmp_path / "run", settings, BatchOptions(llm=LLMSettings(concurrency=2)), chat_model=(model, SPEC)
    )
    assert summary.done == 0 and len(summary.failed) == 3
    assert all("le modèle n'a pas répondu" in f.error and "injoignable" in f.error for f in summary.failed)
    assert read_results(tmp_path / "run") == []


def test_an_interrupted_run_resumes_and_repairs_results(tmp_path: Path, settings: Settings) -> None:
    manifest_path = sample_manifest(tmp_path)
    manifest = load_manifest(manifest_path, LIBRARY)
    run = tmp_path / "run"
    seen: set[str] = set()
    lock = threading.Lock()

    def script(messages: list[BaseMessage], number: int) -> Reply:
        with lock:
            seen.add(next(iter(passages_in(messages)))[:12])
            if len(seen) == 3:  # the third dossier's first call: stop the process (Ctrl-C)
                raise KeyboardInterrupt
        return quoting_first_passage()(messages, number)

    options = BatchOptions(llm=LLMSettings(concurrency=1))
    with pytest.raises(KeyboardInterrupt):
        run_batch(manifest, run, settings, options, chat_model=(FunctionChatModel(script=script), SPEC))
    statuses = [r[1] for r in run_db(run)]
    assert statuses.count("done") == 2 and statuses.count("running") == 1
    assert len(read_results(run)) == 2

    # A torn last line and a lost one (a process killed between the commit and the append).
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (run / "results.jsonl").write_text(lines[0][: len(lines[0]) // 2], encoding="utf-8")
    model = FunctionChatModel(script=quoting_first_passage())
    summary = run_batch(manifest, run, settings, options, chat_model=(model, SPEC))
    assert summary.done == 3 and summary.assessed_now == 1
    assert_exactly_once(run, manifest_path)
    assert [r[4] for r in run_db(run)] == [1, 1, 2]  # the interrupted dossier was started twice
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert [s["resumed"] for s in info["sessions"]] == [False, True] and info["sessions"][1]["recovered"] == 1


def test_one_process_at_a_time_and_no_foreign_folder(tmp_path: Path, settings: Settings) -> None:
    with RunStore(tmp_path / "run"), pytest.raises(RunLocked):
        RunStore(tmp_path / "run")
    (tmp_path / "autre").mkdir()
    (tmp_path / "autre" / "notes.txt").write_text("à garder", encoding="utf-8")
    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    with pytest.raises(Exception, match="contient déjà d'autres fichiers"):
        run_batch(manifest, tmp_path / "autre", settings, BatchOptions())


def test_the_cli_runs_a_baseline_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("ASSESSOR_DATA_DIR", str(data_dir))
    manifest = sample_manifest(tmp_path)
    code, out, err = invoke(manifest, "-o", tmp_path / "run", "--llm", "baseline", "--concurrency", "2")
    assert code == 0, err
    assert "Dossiers du manifeste" in out and "3 (dont 3 cette fois)" in out and "results.jsonl" in out
    assert_exactly_once(tmp_path / "run", manifest)
    code, _, err = invoke(manifest, "-o", tmp_path / "run", "--llm", "baseline", "--mode", "trainer")
    assert code == 1 and "mode : jury → trainer" in err and "Traceback" not in err
    code, _, err = invoke(manifest, "-o", tmp_path / "run2", "--openai-batch")
    assert code == 1 and "--openai-batch demande un modèle" in err


# ---------------------------------------------------------------------------------------------- kill -9


def stub_answer(latency: float) -> Callable[[Any], StubReply]:
    """The stub server's answer to any criterion prompt: the first passage's first six words."""

    def respond(body: Any) -> StubReply:
        messages = body["messages"]
        passages = passages_in([SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])])
        chunk_id, text = next(iter(passages.items()))
        return StubReply.delay(latency, StubReply.text(answer("acquis", [(chunk_id, " ".join(text.split()[:6]))])))

    return respond


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSESSOR_", "OPENAI_"))}
    env.update(ASSESSOR_DATA_DIR=str(data_dir), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def done_count(run: Path) -> int:
    if not (run / "run.sqlite").exists():
        return 0
    try:
        return sum(1 for r in run_db(run) if r[1] == "done")
    except sqlite3.Error:  # not created yet
        return 0


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 180
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the batch ended (code {process.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def kill_9(process: subprocess.Popen[str]) -> None:
    assert process.poll() is None, "the batch had already ended: nothing was interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_at_several_points_then_every_dossier_exactly_once(tmp_path: Path) -> None:
    manifest = sample_manifest(tmp_path, copies=2)  # six dossiers, none sharing a passage
    run = tmp_path / "run"
    with StubLLMServer(default=StubReply.responder(stub_answer(0.03))) as server:
        command = [
            sys.executable, "-c", BATCH_MAIN, str(manifest), "-o", str(run),
            "--llm", "compatible:stub-model", "--llm-base-url", server.base_url, "--concurrency", "2",
        ]  # fmt: skip

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(
                command, cwd=tmp_path, env=cli_env(tmp_path / "data"), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip

        # 1. Killed while the run folder is being created or the first dossiers ingested.
        process = start()
        wait_for(lambda: (run / "run.sqlite").exists(), process, "the run database exists")
        kill_9(process)
        # 2. Killed after the first dossier is done; its results line lost as if killed before the append.
        process = start()
        wait_for(lambda: done_count(run) >= 1, process, "one dossier is done")
        kill_9(process)
        lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        (run / "results.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
        # 3. Killed with half of them done; the last results line torn as if killed during the write.
        process = start()
        wait_for(lambda: done_count(run) >= 3, process, "three dossiers are done")
        kill_9(process)
        text = (run / "results.jsonl").read_text(encoding="utf-8")
        (run / "results.jsonl").write_text(text[: len(text) - 200], encoding="utf-8")
        # 4. Started again: it finishes.
        process = start()
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "6 (dont" in out
    results = assert_exactly_once(run, manifest)
    assert len(results) == 6
    rows = run_db(run)
    assert max(r[4] for r in rows) >= 2  # some dossier was interrupted and assessed again
    for result in results:
        report = Report.model_validate(result["report"])
        assert report.model == "compatible:stub-model"
        assert all(c.citations and c.citations[0].verified for c in report.criteria if c.outcome == "acquis")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert len(info["sessions"]) >= 3 and info["finished_at"] and info["counts"]["done"] == 6


def test_the_ray_engine_without_ray_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    with pytest.raises(BatchError, match=r"pip install 'assessor\[ray\]'"):
        run_batch(manifest, tmp_path / "run", Settings(data_dir=tmp_path / "d"), BatchOptions(engine="ray"))
    with pytest.raises(BatchError, match="moteur « fusée » inconnu"):
        run_batch(manifest, tmp_path / "run2", Settings(data_dir=tmp_path / "d"), BatchOptions(engine="fusée"))


def test_a_run_started_by_a_newer_assessor_is_not_resumed(tmp_path: Path, settings: Settings) -> None:
    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    run = tmp_path / "run"
    options = BatchOptions(llm=LLMSettings(concurrency=2))
    run_batch(manifest, run, settings, options)  # evidence-only: a complete run of format 1
    connection = sqlite3.connect(run / "run.sqlite")
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    connection.commit()
    connection.close()
    with pytest.raises(BatchError, match=r"version plus récente d'Assessor \(format de lancement 2"):
        run_batch(manifest, run, settings, options)
