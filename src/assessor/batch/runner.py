"""``run_batch``: assess every dossier of a manifest into a run folder, resumably."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from langchain_core.language_models.chat_models import BaseChatModel

from assessor import __version__
from assessor.batch.manifest import Manifest, ManifestEntry
from assessor.batch.runstore import (
    DATABASE,
    FORMAT as RUN_FORMAT,
    LOCK,
    RESULTS,
    RUN_JSON,
    DossierRow,
    RunLocked,
    RunStore,
    now,
)
from assessor.datafolder import DossierError
from assessor.dossiers import DossierStore
from assessor.errors import AssessorError
from assessor.ingest import IngestError
from assessor.library import Library
from assessor.llm import ModelSpec, make_chat_model
from assessor.pipeline import ModelCalls, RateLimiter, assess_dossier
from assessor.prompts import PromptLibrary
from assessor.redaction import redact, redact_json
from assessor.referential import Referential
from assessor.results import Flag, Mode, Report
from assessor.settings import BASELINE, LLMSettings, Settings
from assessor.wording import counted

ChatModel = tuple[BaseChatModel, ModelSpec]

# Settings that change how a run is carried out, not its results: they may differ on resume.
_TRANSPORT = {"concurrency", "requests_per_minute", "timeout_s", "max_retries", "local_only"}
_LABELS = {
    "manifest.sha256": "contenu du manifeste (sha256)",
    "model": "modèle",
    "prompt_version": "version des prompts",
    "mode": "mode",
    "openai_batch": "--openai-batch",
}


class BatchError(AssessorError):
    """A batch that cannot start or go on; the message (French) says why and what to do."""

    code = "lot-impossible"


class BatchProgress(Protocol):
    """What a batch reports while it runs (from worker threads)."""

    def dossiers(self, done: int, total: int) -> None: ...

    def criteria(self, done: int, total: int) -> None: ...

    def status(self, message: str) -> None: ...


@dataclass
class BatchOptions:
    llm: LLMSettings = field(default_factory=LLMSettings)
    mode: Mode = Mode.JURY
    openai_batch: bool = False
    poll_interval_s: float = 30.0
    retry_failed: bool = False
    engine: str = "local"  # or "ray": each dossier a Ray task (batch/ray_engine.py)
    ray_address: str | None = None  # None: a Ray instance started for this run; "auto" or ray://host:port


@dataclass
class FailedDossier:
    dossier_key: str
    line: int
    error: str


@dataclass
class BatchSummary:
    run_dir: Path
    total: int
    done: int
    failed: list[FailedDossier]
    pending: int
    assessed_now: int
    failed_now: int
    model_calls: int
    input_tokens: int
    output_tokens: int
    cost_eur: float
    seconds: float
    statuses: dict[str, int]
    outcomes: dict[str, int]
    openai_batches: list[str]

    @property
    def complete(self) -> bool:
        return self.pending == 0


def store_id(entry: ManifestEntry) -> str:
    """The dossier's id in the data folder: readable, and unique to its key and files."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", entry.dossier_key).strip("-._")[:36] or "dossier"
    digest = hashlib.sha256("\0".join([entry.dossier_key, *map(str, entry.paths)]).encode()).hexdigest()[:10]
    return f"batch-{slug}-{digest}"


def run_settings(
    manifest: Manifest, settings: Settings, options: BatchOptions, model_id: str, prompt_version: str | None
) -> dict[str, Any]:
    """Everything a run's results depend on, as recorded in run.sqlite and run.json (secrets masked,
    such as a password in a server URL, so that a resumed run compares what was recorded)."""
    return redact_json(
        {
            "manifest": {
                "path": str(manifest.path),
                "sha256": manifest.sha256,
                "dossiers": len(manifest.entries),
            },
            "model": model_id,
            "prompt_version": prompt_version,
            "mode": options.mode.value,
            "openai_batch": options.openai_batch,
            "llm": options.llm.model_dump(mode="json"),
            "ingest": settings.ingest.model_dump(mode="json"),
            "chunking": settings.chunking.model_dump(mode="json"),
            "embedding": settings.embedding.model_dump(mode="json"),
            "retrieval": settings.retrieval.model_dump(mode="json"),
            "evidence_only": settings.evidence_only.model_dump(mode="json"),
            "data_dir": str(settings.data_dir.resolve()),
            "assessor_version": __version__,
        }
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def settings_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The result-affecting settings that differ, as « name : before → after »."""
    ignored = {"manifest.path", "manifest.dossiers", "data_dir", "assessor_version"} | {
        f"llm.{name}" for name in _TRANSPORT
    }
    old, new = _flatten(before), _flatten(after)
    changed = []
    for name in sorted(set(old) | set(new)):
        if name in ignored or old.get(name) == new.get(name):
            continue
        label = _LABELS.get(name, name)
        changed.append(f"{label} : {old.get(name)} → {new.get(name)}")
    return changed


def unanswered_error(report: Report, source: str) -> str | None:
    """Why the dossier failed when some criteria got no answer at all from ``source`` (server
    unreachable, HTTP error, timeout…), naming the first; None when every call was answered."""
    reasons = []
    for result in report.criteria:
        if Flag.MODEL_ERROR not in result.flags or not result.attempt_log:
            continue
        last = result.attempt_log[-1]
        if not last.raw_output and not last.input_tokens and not last.output_tokens:
            reasons.append(f"{result.criterion_id} : {last.errors[0] if last.errors else 'aucune réponse'}")
    if not reasons:
        return None
    return f"{source} n'a pas répondu pour {counted(len(reasons), 'critère')} sur {len(report.criteria)} ({reasons[0]})"


def describe(exc: BaseException) -> str:
    """A failed dossier's reason, in French."""
    if isinstance(exc, IngestError):
        return f"{exc.file} : {exc.message} {exc.hint}"
    if isinstance(exc, DossierError):
        return str(exc)
    return redact(f"erreur inattendue ({type(exc).__name__}) : {exc}")


class _Counter:
    def __init__(self, total: int, done: int, report: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.done = done
        self._report = report
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            done = self.done
        if self._report:
            self._report(done, self.total)


@dataclass
class Outcome:
    report: Report | None = None
    error: str | None = None
    deferred: bool = False


class BatchRun:
    """One session of a run: the state that the live and Batch API paths share."""

    def __init__(
        self,
        manifest: Manifest,
        store: RunStore,
        settings: Settings,
        options: BatchOptions,
        model: ChatModel | None,
        prompts: PromptLibrary | None,
        referentials: dict[str, Referential],
        progress: BatchProgress | None,
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.settings = settings
        self.options = options
        self.model = model
        self.prompts = prompts
        self.referentials = referentials
        self.progress = progress
        self.entries = {e.dossier_key: e for e in manifest.entries}
        self.dossier_store = DossierStore(settings)
        self.ingest_lock = threading.Lock()
        self.stop = threading.Event()
        self.assessed_now = 0
        self.failed_now = 0
        self.session_lock = threading.Lock()
        rows = store.dossiers()
        counts = Counter(r.status for r in rows)
        self.dossier_counter = _Counter(
            len(rows), counts["done"] + counts["failed"], progress.dossiers if progress else None
        )
        finished = sum(self.criteria_count(r) for r in rows if r.status in ("done", "failed"))
        self.criterion_counter = _Counter(
            sum(self.criteria_count(r) for r in rows), finished, progress.criteria if progress else None
        )
        self.dossier_counter.add(0)
        self.criterion_counter.add(0)
        _ = self.dossier_store.index  # opened once, before the threads

    def criteria_count(self, row: DossierRow) -> int:
        ref = self.referentials[row.referential]
        return sum(len(ref.criteria_of(code)) for code in row.blocks)

    def status(self, message: str) -> None:
        if self.progress:
            self.progress.status(message)

    def ingest(self, row: DossierRow) -> None:
        """Ingest a dossier's files, unless the data folder already has them, unchanged and indexed."""
        paths = self.entries[row.dossier_key].paths
        try:
            dossier = self.dossier_store.get(row.store_id)
        except DossierError:
            dossier = None
        if dossier is not None and self.dossier_store.index.name in dossier.collections:
            current = {(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths}
            if current == {(f.name, f.sha256) for f in dossier.files}:
                return  # resumed, or another Batch API round: no need to read the files again
        with self.ingest_lock:  # the index is written by one thread at a time
            self.dossier_store.ingest(row.store_id, list(paths))

    def assess(
        self,
        row: DossierRow,
        *,
        model: ChatModel | ModelCalls | None,
        llm: LLMSettings,
        executor: ThreadPoolExecutor | None,
        limiter: RateLimiter | None,
        live_progress: bool,
    ) -> Report:
        counted = 0

        def progress(done: int, total: int, criterion_id: str) -> None:
            nonlocal counted
            counted += 1
            self.criterion_counter.add()

        try:
            self.ingest(row)
            return assess_dossier(
                self.dossier_store,
                row.store_id,
                self.referentials[row.referential],
                blocks=row.blocks,
                mode=self.options.mode,
                llm=llm,
                chat_model=model,
                prompts=self.prompts,
                progress=progress if live_progress else None,
                executor=executor,
                limiter=limiter,
            )
        finally:
            if live_progress:  # a dossier that stopped half-way still moves the bar to its end
                self.criterion_counter.add(self.criteria_count(row) - counted)

    def settle(self, row: DossierRow, outcome: Outcome, seconds: float, *, count_criteria: bool) -> None:
        """Record a dossier's outcome: done with its report, failed with the reason, or back to pending."""
        if outcome.deferred:
            self.store.defer(row.dossier_key)
            return
        if outcome.report is not None and outcome.error is None:
            if self.store.finish(row.dossier_key, outcome.report.model_dump_json(), seconds):
                with self.session_lock:
                    self.assessed_now += 1
        else:
            self.store.fail(row.dossier_key, outcome.error or "échec", seconds)
            with self.session_lock:
                self.failed_now += 1
        if count_criteria:
            self.criterion_counter.add(self.criteria_count(row))
        self.dossier_counter.add()

    def run_pool(self, rows: list[DossierRow], work: Callable[[DossierRow], None], workers: int) -> None:
        """``work`` on every row with ``workers`` threads; Ctrl-C stops starting new ones."""
        if not rows:
            return
        with _pool(workers, "assessor-batch") as pool:
            futures: set[Future[None]] = {pool.submit(self._guarded, work, row) for row in rows}
            try:
                while futures:
                    finished, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()  # a recording error stops the run: the database is the truth
            except BaseException:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise

    def _guarded(self, work: Callable[[DossierRow], None], row: DossierRow) -> None:
        if not self.stop.is_set():
            work(row)

    def run_live(self) -> None:
        assert self.options.openai_batch is False
        llm = self.options.llm
        limiter = RateLimiter(llm.requests_per_minute)
        rows = self.store.dossiers("pending")
        with _pool(llm.concurrency if self.model else 1, "assessor-batch-llm") as executor:

            def work(row: DossierRow) -> None:
                self.store.start(row.dossier_key)
                started = time.perf_counter()
                outcome = Outcome()
                try:
                    outcome.report = self.assess(
                        row,
                        model=self.model,
                        llm=llm,
                        executor=executor if self.model else None,
                        limiter=limiter,
                        live_progress=True,
                    )
                    outcome.error = unanswered_error(outcome.report, "le modèle")
                except Exception as exc:
                    outcome.error = describe(exc)
                self.settle(row, outcome, time.perf_counter() - started, count_criteria=False)

            # Enough dossiers in progress to keep every model slot busy; one at a time without a model.
            self.run_pool(rows, work, llm.concurrency if self.model else 1)


@contextmanager
def _pool(workers: int, name: str) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _check_folder(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise BatchError(f"{run_dir} existe et n'est pas un dossier : choisissez un autre dossier de sortie (-o).")
    if run_dir.is_dir():
        own = {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", f"{DATABASE}-journal", LOCK, RUN_JSON, RESULTS}
        foreign = sorted(p.name for p in run_dir.iterdir() if p.name not in own and not p.name.startswith("."))
        if foreign:
            raise BatchError(
                f"le dossier de sortie {run_dir} contient déjà d'autres fichiers ({', '.join(foreign[:5])}) et n'est "
                "pas un lancement à reprendre : choisissez un dossier vide ou nouveau (-o)."
            )


def run_batch(
    manifest: Manifest,
    run_dir: Path,
    settings: Settings,
    options: BatchOptions,
    *,
    chat_model: ChatModel | None = None,
    progress: BatchProgress | None = None,
    openai_client: Any = None,
    library: Library | None = None,
) -> BatchSummary:
    """Assess every dossier of ``manifest`` not yet done in ``run_dir`` (created, or resumed).

    ``chat_model`` injects a model (tests, benchmarks); otherwise ``options.llm.model`` names one.
    ``openai_client`` injects the ``openai.OpenAI`` client of the Batch API path.
    Raises ``BatchError`` (and ``LLMError``) with a French message.
    """
    started = time.perf_counter()
    if options.engine not in ("local", "ray"):
        raise BatchError(f"moteur « {options.engine} » inconnu : local (par défaut) ou ray.")
    if options.engine == "ray" and options.openai_batch:
        raise BatchError("--engine ray et --openai-batch s'excluent : l'API Batch d'OpenAI fait déjà le travail.")
    llm = options.llm
    model = chat_model
    if model is None and llm.model != BASELINE:
        model = make_chat_model(llm)
    if options.openai_batch:
        from assessor.batch.openai_batch import check_provider

        check_provider(model[1] if model else None, llm)
    prompts = PromptLibrary() if model else None
    library = library or Library.from_settings(settings)
    referentials = {e.referential: library.get(e.referential) for e in manifest.entries}
    wanted = run_settings(
        manifest, settings, options, model[1].id if model else BASELINE, prompts.version if prompts else None
    )
    _check_folder(run_dir)
    resumed = RunStore.exists(run_dir)
    try:
        store = RunStore(run_dir)
    except RunLocked as exc:
        raise BatchError(
            f"un autre lancement utilise déjà {run_dir} : attendez sa fin, ou arrêtez-le avant de relancer."
        ) from exc
    with store:
        if resumed:
            written = store.meta("format") or 1
            if written > RUN_FORMAT:
                raise BatchError(
                    f"{run_dir} a été commencé par une version plus récente d'Assessor (format de lancement "
                    f"{written}, celui-ci lit jusqu'au format {RUN_FORMAT}) : mettez Assessor à jour pour le reprendre."
                )
            changed = settings_differences(store.meta("settings"), wanted)
            if changed:
                raise BatchError(
                    f"{run_dir} est un lancement commencé avec un autre manifeste ou d'autres réglages ("
                    + " ; ".join(changed)
                    + ") : relancez avec les mêmes, ou choisissez un autre dossier de sortie (-o)."
                )
        else:
            store.initialise(wanted, [(e, store_id(e)) for e in manifest.entries], run_id=uuid.uuid4().hex)
        recovered = store.recover(retry_failed=options.retry_failed)
        if options.openai_batch and options.retry_failed:
            store.forget_failed_responses()
        sessions = [*(store.meta("sessions") or [])]
        session = {
            "started_at": now(),
            "ended_at": None,
            "concurrency": llm.concurrency,
            "requests_per_minute": llm.requests_per_minute,
            "resumed": resumed,
            "recovered": recovered,
        }
        store.set_meta("sessions", [*sessions, session])
        store.rewrite_results()  # repairs a line torn or lost by a killed process
        store.write_run_json({"run_id": store.meta("run_id"), "counts": store.counts()})
        run = BatchRun(manifest, store, settings, options, model, prompts, referentials, progress)
        try:
            if options.openai_batch:
                from assessor.batch.openai_batch import run_openai_batch

                assert model is not None
                run_openai_batch(run, model, openai_client)
            elif options.engine == "ray":
                from assessor.batch.ray_engine import RayUnavailable, run_ray

                try:
                    run_ray(run, options.ray_address, chat_model)
                except RayUnavailable as exc:
                    raise BatchError(str(exc)) from None
            else:
                run.run_live()
        finally:
            counts = store.counts()
            worked = run.assessed_now + run.failed_now > 0
            if not counts["pending"] and not counts["running"] and (worked or store.meta("finished_at") is None):
                store.set_meta("finished_at", now())
            session["ended_at"] = now()
            store.set_meta("sessions", [*sessions, session])
            store.rewrite_results()
            store.write_run_json({"run_id": store.meta("run_id"), "counts": counts})
        return _summary(store, run, time.perf_counter() - started)


def _summary(store: RunStore, run: BatchRun, seconds: float) -> BatchSummary:
    counts = store.counts()
    usage = store.query(
        "SELECT COALESCE(SUM(json_extract(report, '$.usage.model_calls')), 0), "
        "COALESCE(SUM(json_extract(report, '$.usage.input_tokens')), 0), "
        "COALESCE(SUM(json_extract(report, '$.usage.output_tokens')), 0), "
        "COALESCE(SUM(json_extract(report, '$.usage.cost_eur')), 0) FROM dossiers WHERE status = 'done'"
    )[0]
    per_criterion = store.query(
        "SELECT json_extract(c.value, '$.status'), json_extract(c.value, '$.outcome') "
        "FROM dossiers, json_each(dossiers.report, '$.criteria') AS c WHERE dossiers.status = 'done'"
    )
    batches = [
        r[0] for r in store.query("SELECT batch_id FROM openai_batches WHERE batch_id IS NOT NULL ORDER BY round")
    ]
    return BatchSummary(
        run_dir=store.folder,
        total=sum(counts.values()),
        done=counts["done"],
        failed=[FailedDossier(r.dossier_key, r.line, r.error or "") for r in store.dossiers("failed")],
        pending=counts["pending"] + counts["running"],
        assessed_now=run.assessed_now,
        failed_now=run.failed_now,
        model_calls=int(usage[0]),
        input_tokens=int(usage[1]),
        output_tokens=int(usage[2]),
        cost_eur=round(float(usage[3]), 6),
        seconds=seconds,
        statuses=dict(Counter(str(s) for s, _ in per_criterion)),
        outcomes=dict(Counter(str(o) for _, o in per_criterion)),
        openai_batches=batches,
    )


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of a run's results.jsonl (for tests and tools)."""
    path = run_dir / RESULTS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
