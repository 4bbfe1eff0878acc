"""``assessor batch --engine ray`` on a local Ray instance started by these tests (loopback only).

The Ray engine must give what the local engine gives: the same reports, one line per dossier,
a re-run that skips what is done; and it must survive a Ray worker killed in the middle of a
dossier (Ray runs the task again; the driver records it once).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine is an optional extra: pip install 'assessor[ray]'")

from assessor.batch import BatchOptions, load_manifest, read_results, run_batch  # noqa: E402
from assessor.settings import LLMSettings, Settings  # noqa: E402
from stub_llm import Reply, StubLLMServer  # noqa: E402
from test_batch import LIBRARY, assert_exactly_once, sample_manifest, stub_answer  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One Ray instance for the module, on 127.0.0.1, with two CPUs (the engine reuses it)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    yield
    ray.shutdown()


def outcomes(run: Path) -> dict[str, list[tuple[str, str, str, list[str]]]]:
    """Per dossier, each criterion's outcome, status and quotes: what a jury would read."""
    return {
        line["dossier_key"]: [
            (c["criterion_id"], c["outcome"], c["status"], [q["quote"] for q in c["citations"]])
            for c in line["report"]["criteria"]
        ]
        for line in read_results(run)
    }


def test_the_ray_engine_gives_the_local_engine_results_once_and_resumes(tmp_path: Path) -> None:
    manifest_path = sample_manifest(tmp_path)
    manifest = load_manifest(manifest_path, LIBRARY)
    local = run_batch(manifest, tmp_path / "local", Settings(data_dir=tmp_path / "d1"), BatchOptions())
    on_ray = run_batch(manifest, tmp_path / "ray", Settings(data_dir=tmp_path / "d2"), BatchOptions(engine="ray"))
    assert local.done == on_ray.done == 3 and not on_ray.failed
    assert_exactly_once(tmp_path / "ray", manifest_path)
    assert outcomes(tmp_path / "ray") == outcomes(tmp_path / "local")
    # Started again: nothing left to do, nothing assessed twice.
    again = run_batch(manifest, tmp_path / "ray", Settings(data_dir=tmp_path / "d2"), BatchOptions(engine="ray"))
    assert again.assessed_now == 0 and again.done == 3
    assert_exactly_once(tmp_path / "ray", manifest_path)


def _parent(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _task_processes() -> list[int]:
    """This test process's Ray workers running a dossier right now (Ray titles them after the task's
    function). Only descendants of this process: another pytest worker runs its own Ray instance."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if not title.startswith(b"ray::assess_one"):
            continue
        ancestor = int(entry.name)
        while ancestor > 1 and ancestor != os.getpid():
            ancestor = _parent(ancestor)
        if ancestor == os.getpid():
            found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_dossier_is_retried_and_recorded_once(tmp_path: Path) -> None:
    manifest_path = sample_manifest(tmp_path, copies=3)  # nine dossiers, no two alike
    manifest = load_manifest(manifest_path, LIBRARY)
    killed: list[int] = []
    finished = threading.Event()

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while not finished.is_set() and time.monotonic() < deadline:
            running = _task_processes()
            if running:
                os.kill(running[0], signal.SIGKILL)
                killed.append(running[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    try:
        summary = run_batch(manifest, tmp_path / "run", Settings(data_dir=tmp_path / "d"), BatchOptions(engine="ray"))
    finally:
        finished.set()
        killer.join()
    assert killed, "no Ray worker was seen running a dossier: nothing was killed, the test proved nothing"
    assert summary.done == 9 and not summary.failed, summary.failed
    assert_exactly_once(tmp_path / "run", manifest_path)


def test_model_calls_stay_within_the_concurrency_bound_across_ray_workers(tmp_path: Path) -> None:
    manifest_path = sample_manifest(tmp_path, copies=1)
    manifest = load_manifest(manifest_path, LIBRARY)
    lock = threading.Lock()
    calls = {"now": 0, "most": 0, "total": 0}
    answer = stub_answer(0)

    def respond(body: Any) -> Reply:
        with lock:
            calls["now"] += 1
            calls["total"] += 1
            calls["most"] = max(calls["most"], calls["now"])
        try:
            time.sleep(0.05)
            return answer(body)
        finally:
            with lock:
                calls["now"] -= 1

    with StubLLMServer(default=Reply.responder(respond)) as server:
        options = BatchOptions(
            engine="ray",
            llm=LLMSettings(model="compatible:stub-model", base_url=server.base_url, concurrency=2),
        )
        summary = run_batch(manifest, tmp_path / "run", Settings(data_dir=tmp_path / "d"), options)
    assert summary.done == 3 and not summary.failed, summary.failed
    assert summary.model_calls == calls["total"] > 0
    assert calls["most"] <= 2, f"{calls['most']} model calls at once for a bound of 2"
    first = json.loads((tmp_path / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["report"]["model"] == "compatible:stub-model"


def test_ray_and_the_openai_batch_api_are_refused_together(tmp_path: Path) -> None:
    from assessor.batch import BatchError

    manifest = load_manifest(sample_manifest(tmp_path), LIBRARY)
    with pytest.raises(BatchError, match="s'excluent"):
        run_batch(
            manifest, tmp_path / "run", Settings(data_dir=tmp_path / "d"), BatchOptions(engine="ray", openai_batch=True)
        )
    assert not (tmp_path / "run").exists()


def test_the_command_line_runs_on_ray(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assessor.cli import app

    manifest = sample_manifest(tmp_path)
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "d"), "batch", str(manifest), "-o", str(tmp_path / "run"), "--engine", "ray"]
    )
    assert result.exit_code == 0, result.output
    assert "3 (dont 3 cette fois)" in result.output
    assert_exactly_once(tmp_path / "run", manifest)
