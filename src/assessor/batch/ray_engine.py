"""The Ray engine of ``assessor batch --engine ray``: each dossier is one Ray task.

The driver (this process) keeps what makes a run resumable and exactly-once: ``run.sqlite``,
``results.jsonl`` and the progress bars. It hands each pending dossier to a Ray task, which
ingests the dossier's files into a data folder of its own (a temporary one, removed after), runs
the same ``assess_dossier`` as the local engine and returns the report as JSON. Only the driver
writes results, so a task that Ray runs twice (its worker died and Ray retried it) still gives one
line per dossier.

Model calls are bounded for the whole run, as in the local engine: at most ``llm.concurrency``
dossiers are in flight, each assessing its criteria one at a time, and each given an equal share of
``requests_per_minute``. Without a model (the evidence-only default), as many dossiers are in
flight as the cluster has CPUs.

The files are read by path: on one machine nothing more is needed; on a cluster, the paths of the
manifest must be readable by every node (a shared folder). Ray is an optional extra
(``pip install 'assessor[ray]'``); the local engine stays the default.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assessor.errors import AssessorError
from assessor.settings import BASELINE, LLMSettings, Settings
from assessor.wording import counted

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assessor.batch.runner import BatchRun
    from assessor.llm import ModelSpec
    from assessor.referential import Referential
    from assessor.results import Mode

TASK_RETRIES = 3
"""Times Ray runs a dossier again when the worker running it dies (killed, out of memory, node lost)."""

KEYS_FOR_WORKERS = ("OPENAI_API_KEY", "MISTRAL_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY", "OLLAMA_HOST")
"""Provider keys passed to the workers of a remote cluster (a local one inherits this process's environment)."""


class RayUnavailable(AssessorError):
    """Ray is not installed, or the cluster cannot be reached; the message (French) says what to do."""

    code = "ray-indisponible"


@dataclass(frozen=True)
class DossierTask:
    """Everything a Ray task needs to assess one dossier, without the driver's state."""

    store_id: str
    paths: Sequence[str]
    referential: Referential
    blocks: Sequence[str]
    mode: Mode
    settings: Settings
    llm: LLMSettings
    model: tuple[BaseChatModel, ModelSpec] | None


def assess_one(task: DossierTask) -> dict[str, Any]:
    """Ingest and assess one dossier in a data folder of its own; the report as JSON, or why not.

    Runs in a Ray worker (or anywhere: it uses nothing of the driver). Foreseeable failures (an
    unreadable file, a model that does not answer) are returned as an error, not raised: Ray retries
    only a task whose worker died.
    """
    from assessor.batch.runner import describe, unanswered_error
    from assessor.dossiers import DossierStore
    from assessor.llm import make_chat_model
    from assessor.pipeline import RateLimiter, assess_dossier
    from assessor.prompts import PromptLibrary

    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="assessor-ray-"))
    try:
        settings = task.settings.model_copy(update={"data_dir": folder})
        store = DossierStore(settings)
        store.ingest(task.store_id, [Path(p) for p in task.paths])
        model = task.model
        if model is None and task.llm.model != BASELINE:
            model = make_chat_model(task.llm)
        report = assess_dossier(
            store,
            task.store_id,
            task.referential,
            blocks=task.blocks,
            mode=task.mode,
            llm=task.llm,
            chat_model=model,
            prompts=PromptLibrary() if model else None,
            limiter=RateLimiter(task.llm.requests_per_minute),
        )
        error = unanswered_error(report, "le modèle")
        return {"report": report.model_dump_json(), "error": error, "seconds": time.perf_counter() - started}
    except Exception as exc:  # reported on the dossier, as the local engine does
        return {"report": None, "error": describe(exc), "seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _connect(address: str | None) -> tuple[Any, bool]:
    """The ``ray`` module, connected; and whether this call started the Ray instance (to stop it after)."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "le moteur Ray n'est pas installé : pip install 'assessor[ray]' (ou lancez sans --engine ray, "
            "avec le moteur local)."
        ) from None
    if ray.is_initialized():
        return ray, False
    # Ray's own messages are in English and for operators: errors only on the user's screen.
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        env = {k: v for k, v in os.environ.items() if k in KEYS_FOR_WORKERS or k.startswith("ASSESSOR_")}
        options["runtime_env"] = {"env_vars": env}
    else:  # an instance for this run only, reachable from this machine only
        options["_node_ip_address"] = "127.0.0.1"
    try:
        ray.init(address=address or None, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(
            f"impossible de joindre le cluster Ray « {address} » : {exc}. Vérifiez l'adresse (ray://hôte:10001 "
            "ou auto pour un cluster démarré sur cette machine par « ray start --head »)."
        ) from None
    return ray, True


def run_ray(run: BatchRun, address: str | None, injected_model: tuple[BaseChatModel, ModelSpec] | None) -> None:
    """Assess every pending dossier of ``run`` as Ray tasks; results are recorded by this process."""
    from assessor.batch.runner import Outcome
    from assessor.results import read_report

    ray, started_here = _connect(address)
    try:
        llm = run.options.llm
        model_run = run.model is not None
        cpus = float(ray.cluster_resources().get("CPU", 1))
        slots = llm.concurrency if model_run else max(1, int(cpus))
        # A dossier waiting on the model uses little CPU: ask Ray for a share, so that ``slots`` of them
        # run at once even on fewer cores (without a model, a dossier is CPU work: one core each).
        task_cpus = min(1.0, cpus / slots) if model_run else 1.0
        per_task = llm.model_copy(
            update={
                "concurrency": 1,
                "requests_per_minute": llm.requests_per_minute / slots if llm.requests_per_minute else None,
            }
        )
        remote = ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False, num_cpus=task_cpus)(assess_one)
        pending = list(run.store.dossiers("pending"))
        in_flight: dict[Any, tuple[Any, float]] = {}
        run.status(f"Ray : {counted(len(pending), 'dossier')} à évaluer, {slots} à la fois.")
        try:
            while pending or in_flight:
                while pending and len(in_flight) < slots and not run.stop.is_set():
                    row = pending.pop(0)
                    entry = run.entries[row.dossier_key]
                    task = DossierTask(
                        store_id=row.store_id,
                        paths=[str(p) for p in entry.paths],
                        referential=run.referentials[row.referential],
                        blocks=row.blocks,
                        mode=run.options.mode,
                        settings=run.settings,
                        llm=per_task,
                        model=injected_model,
                    )
                    run.store.start(row.dossier_key)
                    in_flight[remote.remote(task)] = (row, time.perf_counter())
                if not in_flight:
                    break
                finished, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
                for ref in finished:
                    row, since = in_flight.pop(ref)
                    outcome = Outcome()
                    try:
                        answer = ray.get(ref)
                        if answer["report"] is not None:
                            outcome.report = read_report(answer["report"])
                        outcome.error = answer["error"]
                    except ray.exceptions.RayError as exc:  # the worker died more times than Ray retries
                        outcome.error = f"tâche Ray perdue après {TASK_RETRIES} reprises : {type(exc).__name__}"
                    run.settle(row, outcome, time.perf_counter() - since, count_criteria=True)
        except BaseException:
            run.stop.set()
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()
