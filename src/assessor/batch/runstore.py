"""The run folder: ``run.sqlite`` (the source of truth), ``results.jsonl`` and ``run.json``.

``run.sqlite`` (WAL) holds the run's settings (table ``meta``), every dossier of the manifest
with its status (``pending``, ``running``, ``done``, ``failed``), error and report (table
``dossiers``; view ``results``), and the OpenAI Batch API's state (tables ``openai_batches``,
``batch_requests``, ``batch_responses``). A dossier becomes ``done`` in one transaction that
also stores its report, and only from ``running``: a dossier is never done twice.

``results.jsonl`` is derived from it: a line is appended after each commit, and the whole file
is rewritten from the database (temporary file, then ``os.replace``) when a run starts or
resumes and when it ends, which repairs a line torn or lost by a killed process.

Every text that goes into the database or the files is masked first (``assessor.redaction``):
reports, errors, Batch API requests, answers and messages, settings.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from assessor.atomic import write_atomic
from assessor.batch.manifest import ManifestEntry
from assessor.errors import AssessorError
from assessor.redaction import redactor

FORMAT = 1
RESULTS = "results.jsonl"
DATABASE = "run.sqlite"
RUN_JSON = "run.json"
LOCK = ".lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dossiers (
    dossier_key TEXT PRIMARY KEY,
    position INTEGER NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    candidate_id TEXT,
    files TEXT NOT NULL,
    referential TEXT NOT NULL,
    blocks TEXT NOT NULL,
    store_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    error TEXT,
    runs INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,
    done_seq INTEGER UNIQUE,
    report TEXT,
    CHECK ((status = 'done') = (report IS NOT NULL))
);
CREATE VIEW IF NOT EXISTS results AS
    SELECT dossier_key, candidate_id, files, report, seconds FROM dossiers WHERE status = 'done' ORDER BY done_seq;
CREATE TABLE IF NOT EXISTS openai_batches (
    round INTEGER PRIMARY KEY,
    input_file_id TEXT,
    batch_id TEXT UNIQUE,
    status TEXT NOT NULL,
    output_file_id TEXT,
    error_file_id TEXT,
    requests INTEGER NOT NULL,
    message TEXT,
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS batch_requests (
    round INTEGER NOT NULL REFERENCES openai_batches(round),
    custom_id TEXT NOT NULL,
    dossier_key TEXT NOT NULL,
    criterion_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (round, custom_id)
);
CREATE TABLE IF NOT EXISTS batch_responses (
    digest TEXT PRIMARY KEY,
    round INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    dossier_key TEXT NOT NULL,
    ok INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunLocked(AssessorError):
    """Another process is using the run folder."""

    code = "execution-verrouillee"


@dataclass(frozen=True)
class DossierRow:
    dossier_key: str
    position: int
    line: int
    candidate_id: str | None
    files: list[str]
    referential: str
    blocks: list[str]
    store_id: str
    status: str
    error: str | None
    runs: int
    seconds: float | None


def atomic_write(path: Path, text: str) -> None:
    """The file is either the old or the new one, whole (``assessor.atomic``)."""
    write_atomic(path, text, mode=0o644)  # as before: a run folder is shared with the researchers


def results_line(key: str, candidate_id: str | None, files: list[str], report: str, seconds: float | None) -> str:
    """One line of results.jsonl; ``report`` is the report's JSON text, embedded as is."""
    head = json.dumps({"dossier_key": key, "candidate_id": candidate_id, "files": files}, ensure_ascii=False)
    return f'{head[:-1]}, "report": {report}, "seconds": {json.dumps(seconds or 0.0)}}}\n'


class RunStore:
    """The run folder, opened by one process at a time (an exclusive lock, released on exit, even kill -9).

    One SQLite connection is shared by the threads of the process, behind a lock.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._acquire(folder / LOCK)
        self._scrub = redactor()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(folder / DATABASE, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
        self._db.execute("PRAGMA foreign_keys=ON")
        self._results: TextIO | None = None

    @staticmethod
    def _acquire(path: Path) -> TextIO:
        handle = path.open("a", encoding="utf-8")
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise RunLocked(str(path)) from exc
        return handle

    @staticmethod
    def exists(folder: Path) -> bool:
        """Whether the folder holds a run that was initialised (its settings recorded)."""
        path = folder / DATABASE
        if not path.exists():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                return bool(db.execute("SELECT 1 FROM meta WHERE key = 'settings'").fetchone())
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            if self._results is not None:
                self._results.close()
                self._results = None
            self._db.close()
            self._lock_file.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # ------------------------------------------------------------------ settings

    def meta(self, key: str) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,)) if self._has_schema() else []
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any, db: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        params = (key, json.dumps(self._scrub.json(value), ensure_ascii=False))
        if db is not None:
            db.execute(sql, params)
        else:
            with self.transaction() as tx:
                tx.execute(sql, params)

    def _has_schema(self) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"))

    def initialise(self, settings: dict[str, Any], entries: list[tuple[ManifestEntry, str]], *, run_id: str) -> None:
        """Create the schema and record the settings and every dossier as pending, in one transaction."""
        with self.transaction() as db:
            for statement in SCHEMA.split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute("DELETE FROM dossiers")  # a run whose first transaction never committed has none
            self.set_meta("format", FORMAT, db)
            self.set_meta("run_id", run_id, db)
            self.set_meta("settings", settings, db)
            self.set_meta("started_at", now(), db)
            self.set_meta("finished_at", None, db)
            self.set_meta("sessions", [], db)
            db.executemany(
                "INSERT INTO dossiers (dossier_key, position, line, candidate_id, files, referential, blocks, "
                "store_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (
                        e.dossier_key,
                        position,
                        e.line,
                        e.candidate_id,
                        json.dumps(list(e.files), ensure_ascii=False),
                        e.referential,
                        json.dumps(list(e.blocks)),
                        store_id,
                    )
                    for position, (e, store_id) in enumerate(entries)
                ],
            )

    # ------------------------------------------------------------------ dossiers

    def recover(self, *, retry_failed: bool) -> int:
        """Put back to pending the dossiers a stopped process left running (and the failed ones if asked)."""
        statuses = ("running", "failed") if retry_failed else ("running",)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE dossiers SET status = 'pending', error = NULL "
                f"WHERE status IN ({', '.join('?' for _ in statuses)})",
                statuses,
            )
            return cursor.rowcount

    def dossiers(self, status: str | None = None) -> list[DossierRow]:
        sql = (
            "SELECT dossier_key, position, line, candidate_id, files, referential, blocks, store_id, status, error, "
            "runs, seconds FROM dossiers"
        )
        rows = self.query(
            sql + (" WHERE status = ?" if status else "") + " ORDER BY position", (status,) if status else ()
        )
        return [
            DossierRow(
                dossier_key=r[0],
                position=r[1],
                line=r[2],
                candidate_id=r[3],
                files=json.loads(r[4]),
                referential=r[5],
                blocks=json.loads(r[6]),
                store_id=r[7],
                status=r[8],
                error=r[9],
                runs=r[10],
                seconds=r[11],
            )
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pending", "running", "done", "failed"), 0)
        counts.update(dict(self.query("SELECT status, COUNT(*) FROM dossiers GROUP BY status")))
        return counts

    def start(self, key: str) -> None:
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE dossiers SET status = 'running', runs = runs + 1, started_at = ? "
                "WHERE dossier_key = ? AND status IN ('pending', 'running')",
                (now(), key),
            )
            if cursor.rowcount != 1:
                raise RuntimeError(f"dossier {key!r} is not pending")

    def finish(self, key: str, report_json: str, seconds: float) -> bool:
        """Store a dossier's report and mark it done, in one transaction; then append its results line.

        Returns False (and changes nothing) if the dossier was not running: it is never done twice."""
        report_json = self._scrub.text(report_json)
        with self._lock:
            with self.transaction() as db:
                cursor = db.execute(
                    "UPDATE dossiers SET status = 'done', report = ?, seconds = ?, finished_at = ?, error = NULL, "
                    "done_seq = (SELECT COALESCE(MAX(done_seq), 0) + 1 FROM dossiers) "
                    "WHERE dossier_key = ? AND status = 'running'",
                    (report_json, round(seconds, 3), now(), key),
                )
                if cursor.rowcount != 1:
                    return False
                row = db.execute("SELECT candidate_id, files FROM dossiers WHERE dossier_key = ?", (key,)).fetchone()
            self._append(results_line(key, row[0], json.loads(row[1]), report_json, round(seconds, 3)))
            return True

    def fail(self, key: str, error: str, seconds: float) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE dossiers SET status = 'failed', error = ?, seconds = ?, finished_at = ? "
                "WHERE dossier_key = ? AND status = 'running'",
                (self._scrub.text(error), round(seconds, 3), now(), key),
            )

    def defer(self, key: str) -> None:
        """Back to pending: the dossier waits for answers from the OpenAI Batch API."""
        with self.transaction() as db:
            db.execute("UPDATE dossiers SET status = 'pending' WHERE dossier_key = ? AND status = 'running'", (key,))

    # ------------------------------------------------------------------ OpenAI Batch API

    def open_batch(self) -> dict[str, Any] | None:
        """The Batch API round not yet closed, if any (at most one)."""
        rows = self.query(
            "SELECT round, input_file_id, batch_id, status, requests FROM openai_batches "
            "WHERE closed_at IS NULL ORDER BY round LIMIT 1"
        )
        if not rows:
            return None
        names = ("round", "input_file_id", "batch_id", "status", "requests")
        return dict(zip(names, rows[0], strict=True))

    def create_round(self, requests: list[tuple[str, str, str, str, str]]) -> int:
        """Record a new round's requests (custom_id, dossier_key, criterion_id, digest, body) before any upload."""
        with self.transaction() as db:
            number = int(db.execute("SELECT COALESCE(MAX(round), 0) + 1 FROM openai_batches").fetchone()[0])
            db.execute(
                "INSERT INTO openai_batches (round, status, requests, created_at) VALUES (?, 'preparing', ?, ?)",
                (number, len(requests), now()),
            )
            db.executemany(
                "INSERT INTO batch_requests (round, custom_id, dossier_key, criterion_id, digest, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (number, c, k, criterion, digest, self._scrub.text(body))
                    for c, k, criterion, digest, body in requests
                ],
            )
        return number

    def round_requests(self, number: int) -> list[tuple[str, str, str, str]]:
        """(custom_id, dossier_key, digest, body) of a round, in order."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self.query(
                "SELECT custom_id, dossier_key, digest, body FROM batch_requests WHERE round = ? ORDER BY rowid",
                (number,),
            )
        ]

    def update_batch(self, number: int, **values: Any) -> None:
        allowed = {"input_file_id", "batch_id", "status", "output_file_id", "error_file_id", "message"}
        assert set(values) <= allowed
        values = {k: self._scrub.text(v) if isinstance(v, str) else v for k, v in values.items()}
        with self.transaction() as db:
            db.execute(
                f"UPDATE openai_batches SET {', '.join(f'{k} = ?' for k in values)} WHERE round = ?",
                (*values.values(), number),
            )

    def close_batch(
        self, number: int, status: str, message: str | None, responses: list[tuple[str, str, str, bool, str]]
    ) -> None:
        """Store a round's answers (digest, custom_id, dossier_key, ok, body) and close it, in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO batch_responses (digest, round, custom_id, dossier_key, ok, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(d, number, c, k, int(ok), self._scrub.text(b)) for d, c, k, ok, b in responses],
            )
            db.execute(
                "UPDATE openai_batches SET status = ?, message = ?, closed_at = ? WHERE round = ?",
                (status, self._scrub.text(message) if message else message, now(), number),
            )

    def responses(self) -> dict[str, tuple[bool, str]]:
        """Every answer received from the Batch API: digest -> (ok, body)."""
        rows = self.query("SELECT digest, ok, body FROM batch_responses WHERE ok >= 0")
        return {d: (bool(ok), body) for d, ok, body in rows}

    def unanswered_digests(self) -> set[str]:
        """Requests of completed rounds that got neither an answer nor an error."""
        return {
            d
            for (d,) in self.query(
                "SELECT r.digest FROM batch_requests r JOIN openai_batches b ON b.round = r.round "
                "WHERE b.status = 'completed' AND r.digest NOT IN (SELECT digest FROM batch_responses)"
            )
        }

    def forget_failed_responses(self) -> int:
        """Set aside (``ok = -1``) the error answers of dossiers to assess again: their requests are sent again."""
        with self.transaction() as db:
            return db.execute(
                "UPDATE batch_responses SET ok = -1 WHERE ok = 0 AND dossier_key IN "
                "(SELECT dossier_key FROM dossiers WHERE status = 'pending')"
            ).rowcount

    # ------------------------------------------------------------------ results.jsonl

    def _append(self, line: str) -> None:
        if self._results is None:
            self._results = (self.folder / RESULTS).open("a", encoding="utf-8", newline="")
        self._results.write(line)
        self._results.flush()

    def rewrite_results(self) -> int:
        """Write results.jsonl again from the database, atomically; returns the number of lines."""
        with self._lock:
            if self._results is not None:
                self._results.close()
                self._results = None
            rows = self.query("SELECT dossier_key, candidate_id, files, report, seconds FROM results")
            atomic_write(
                self.folder / RESULTS,
                "".join(self._scrub.text(results_line(k, c, json.loads(f), r, s)) for k, c, f, r, s in rows),
            )
            return len(rows)

    def write_run_json(self, extra: dict[str, Any]) -> None:
        data = {
            "format": self.meta("format"),
            "started_at": self.meta("started_at"),
            "finished_at": self.meta("finished_at"),
            "sessions": self.meta("sessions"),
            **self.meta("settings"),
            **extra,
        }
        atomic_write(self.folder / RUN_JSON, json.dumps(self._scrub.json(data), ensure_ascii=False, indent=2) + "\n")
