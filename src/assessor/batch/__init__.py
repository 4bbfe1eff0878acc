"""Batch runs: many dossiers from a manifest, into a resumable run folder (``assessor batch``).

Developer notes
===============

Manifest (``manifest.py``)
    CSV or JSONL; keys ``files`` (``|``-separated, relative to the manifest), ``referential``,
    ``blocks`` (``|`` or ``,``; empty = every block), optional ``candidate_id`` and
    ``dossier_key`` (default: the files as written, joined by ``|``). Everything is checked
    before any work (missing file, unknown référentiel or block, duplicate key, unknown
    column…); ``ManifestError`` lists every problem with its line, and nothing is written.

Run folder (``runstore.py``)
    * ``run.sqlite`` (WAL), the source of truth: table ``meta`` (``settings``: everything the
      results depend on; ``run_id``, ``started_at``, ``finished_at``, ``sessions``), table
      ``dossiers`` (one row per manifest line: status ``pending``/``running``/``done``/``failed``,
      ``error``, ``runs``, ``seconds``, ``done_seq`` and the ``report`` JSON), view ``results``
      (the done dossiers in completion order), and the Batch API tables (``openai_batches``,
      ``batch_requests``, ``batch_responses``).
    * ``results.jsonl``: one line per done dossier, in completion order:
      ``{"dossier_key", "candidate_id", "files", "report", "seconds"}``. Failed dossiers are
      not in it (they are in ``run.sqlite`` with their reason).
    * ``run.json``: ``format``, ``run_id``, ``started_at``, ``finished_at`` (null until no
      dossier is pending), ``sessions`` (each start: times, concurrency, rate limit),
      ``manifest`` (``path``, ``sha256``, ``dossiers``), ``model``, ``prompt_version``,
      ``mode``, ``openai_batch``, ``llm`` (every LLM setting; never a key), ``ingest``,
      ``chunking``, ``embedding``, ``retrieval``, ``evidence_only``, ``data_dir``,
      ``assessor_version``, ``counts``.

Exactly once, even under ``kill -9``
    A dossier goes ``pending`` → ``running`` (committed) → ``done`` in one transaction that
    stores its report, only from ``running`` (``UPDATE … WHERE status = 'running'``), with the
    next ``done_seq``. Its results line is appended after the commit. On every start the
    ``running`` dossiers (interrupted) go back to ``pending``, and ``results.jsonl`` is
    rewritten from the database through a temporary file and ``os.replace``, which repairs a
    torn last line or a line lost between the commit and the append; it is rewritten again at
    the end. A dossier interrupted half-way is assessed again; its criteria already answered
    cost nothing (the result cache, ``data_dir/cache/assessments``). An exclusive lock
    (``RUN/.lock``, ``flock``, released by the kernel even on ``kill -9``) keeps a second
    process out of a run folder. Re-running a run whose manifest or result-affecting settings
    changed is refused with the list of differences; the concurrency, rate limit, timeouts and
    data folder may change.

Global bound on model calls (``runner.py``)
    Dossiers run on a pool of ``concurrency`` threads (ingestion, one at a time, and
    retrieval); all their criteria go to one shared executor of ``concurrency`` threads and one
    shared ``RateLimiter`` (``assess_dossier(executor=, limiter=)``), so at most
    ``concurrency`` model calls are in flight across the whole batch and ``--rpm`` holds
    across dossiers.

Failed dossiers
    An unreadable file (``IngestError``), a dossier error, an unexpected exception, or a model
    that gave no answer at all for a criterion (transport error, HTTP error after the
    client's retries, timeout, an error answer from the Batch API) marks the dossier
    ``failed`` with the reason; the run goes on. Answers that are merely unusable are the
    live path's business (retries, then « à revoir »). ``--retry-failed`` assesses the
    failed dossiers again on resume.

OpenAI Batch API (``openai_batch.py``)
    See that module: the live path replayed against the batches' outputs, rounds for the
    retries, the batch id recorded before anything else, found again by input file id.

Data folder
    Each dossier is ingested under ``batch-<key slug>-<hash of key and file paths>``; an
    unchanged file is not ingested twice.
"""

from __future__ import annotations

from assessor.batch.manifest import Manifest, ManifestEntry, ManifestError, ManifestProblem, load_manifest
from assessor.batch.runner import BatchError, BatchOptions, BatchProgress, BatchSummary, read_results, run_batch

__all__ = [
    "BatchError",
    "BatchOptions",
    "BatchProgress",
    "BatchSummary",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "ManifestProblem",
    "load_manifest",
    "read_results",
    "run_batch",
]
