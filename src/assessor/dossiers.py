"""A candidate's dossier: its files kept, chunked and indexed, ready to be searched.

Layout under the data folder: ``dossiers/<id>/manifest.json`` and ``dossiers/<id>/files/``
(copies of the candidate's files under generated names: ``<sha256><suffix>``; no name
given by a user becomes a path). The chunks live in the chromadb index.

Ingestion is all or nothing. Every file is read and chunked before anything is written; if
any file is refused, nothing changes. Files are then copied, chunks added file by file, and
the manifest written, atomically; if anything fails up to there, the copies and chunks of
this run are removed again. A replaced version goes only after the manifest stops listing
it. A run killed outright (kill -9) leaves chunks and copies the manifest does not list:
they are never searched, and the next ingestion into the dossier removes them.

Re-ingesting an unchanged file is a no-op; a changed file with the same name replaces the
old version. A dossier indexed under other chunking or embedding settings is re-indexed
from its kept files the first time it is searched.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from assessor.atomic import write_atomic
from assessor.chunking import Chunk, chunk_file
from assessor.datafolder import DOSSIER_ID, DossierError, dossiers_folder, manifest_path, require_dossier
from assessor.embeddings import Embedder, make_embedder
from assessor.index import ChunkIndex
from assessor.ingest import LoadedFile, ReadProgress
from assessor.ingest.document import SetAside
from assessor.ingest.furniture import page_list
from assessor.ingest.worker import read_file
from assessor.logs import pseudonym
from assessor.retrieval import Retriever
from assessor.settings import Settings

log = logging.getLogger(__name__)

# One lock per dossier, shared by every store of this process: two ingestions into one dossier
# take turns, ingestions into different dossiers run side by side.
_DOSSIER_LOCKS: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_LOCKS_LOCK = threading.Lock()


def dossier_lock(dossier_id: str) -> threading.Lock:
    """The lock that one dossier's ingestions and re-indexing hold."""
    with _LOCKS_LOCK:
        lock = _DOSSIER_LOCKS.get(dossier_id)
        if lock is None:
            lock = threading.Lock()
            _DOSSIER_LOCKS[dossier_id] = lock
        return lock


class DossierFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str
    kind: str
    size_bytes: int
    pages: int
    paged: bool
    chunks: int
    warnings: list[str] = Field(default_factory=list)
    unreadable_pages: list[int] = Field(default_factory=list)
    ocr_pages: list[int] = Field(default_factory=list)
    set_aside: dict[int, list[SetAside]] = Field(
        default_factory=dict,
        description="Per page number: the furniture and template text kept out of the passages, for display.",
    )
    added_at: datetime

    def notes(self) -> list[str]:
        """What a reader should know about the file: its ingest notes, and the pages OCR read (to check)."""
        if not self.ocr_pages:
            return list(self.warnings)
        pages = "page lue" if len(self.ocr_pages) == 1 else "pages lues"
        return [*self.warnings, f"{pages} par OCR : {page_list(self.ocr_pages)}"]


class Dossier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    created_at: datetime
    updated_at: datetime
    files: list[DossierFile] = Field(default_factory=list)
    collections: dict[str, str] = Field(
        default_factory=dict, description="Index collections holding this dossier, with their embedder."
    )

    @property
    def chunk_count(self) -> int:
        return sum(f.chunks for f in self.files)


class IngestReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dossier: Dossier
    added: list[DossierFile]
    unchanged: list[str] = Field(description="Files already indexed with the same content: nothing was done.")
    replaced: list[str] = Field(default_factory=list)


Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is « lecture », « découpage » or « indexation »."""


class DossierStore:
    """Dossiers under the data folder, and their chunks in the index for the current settings."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.folder = dossiers_folder(settings.data_dir)
        self._embedder = embedder
        self._index: ChunkIndex | None = None

    @property
    def index(self) -> ChunkIndex:
        if self._index is None:
            embedder = self._embedder or make_embedder(
                self.settings.embedding.model, base_url=self.settings.embedding.base_url
            )
            self._index = ChunkIndex(self.settings.index, self.settings.data_dir, self.settings.chunking, embedder)
        return self._index

    def _manifest(self, dossier_id: str) -> Path:
        return manifest_path(self.settings.data_dir, dossier_id)

    def _files(self, dossier_id: str) -> Path:
        return self.folder / dossier_id / "files"

    def stored_file(self, dossier_id: str, record: DossierFile) -> Path:
        """Where the copy of a dossier's file is kept."""
        return self._files(dossier_id) / f"{record.sha256}{Path(record.name).suffix.lower()}"

    def all(self) -> list[Dossier]:
        if not self.folder.is_dir():
            return []
        return [
            Dossier.model_validate_json(p.read_text(encoding="utf-8"))
            for p in sorted(self.folder.glob("*/manifest.json"))
        ]

    def get(self, dossier_id: str) -> Dossier:
        path = require_dossier(self.settings.data_dir, dossier_id)
        return Dossier.model_validate_json(path.read_text(encoding="utf-8"))

    def _save(self, dossier: Dossier) -> None:
        write_atomic(self._manifest(dossier.id), dossier.model_dump_json(indent=2))

    def ingest(self, dossier_id: str, paths: Sequence[Path], *, progress: Progress | None = None) -> IngestReport:
        """Add files to a dossier (created if new). Raises ``IngestError`` or ``DossierError``.

        Each file is read under the ingestion limits (``ingest.worker``); ingestions into the same
        dossier take turns."""
        if not DOSSIER_ID.match(dossier_id):
            raise DossierError(
                f"identifiant de dossier invalide : « {dossier_id} » (lettres, chiffres, « . », "
                "« _ » et « - », 64 caractères au plus, par exemple « 2026-durand-camille »)."
            )
        names = [p.name for p in paths]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DossierError(f"plusieurs fichiers portent le même nom : {', '.join(duplicates)} ; renommez-les.")
        started = time.perf_counter()
        log.debug("ingest started", extra={"dossier": pseudonym(dossier_id), "files": len(paths)})
        with dossier_lock(dossier_id):
            report = self._ingest(dossier_id, paths, progress)
        log.info(
            "ingest done",
            extra={
                "dossier": pseudonym(dossier_id),
                "added": len(report.added),
                "unchanged": len(report.unchanged),
                "replaced": len(report.replaced),
                "chunks": sum(f.chunks for f in report.added),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return report

    def _ingest(self, dossier_id: str, paths: Sequence[Path], progress: Progress | None) -> IngestReport:
        loaded: list[LoadedFile] = []
        for number, path in enumerate(paths, start=1):
            loaded.append(read_file(path, self.settings.ingest, progress=_per_file(progress, path.name)))
            if progress:
                progress("lecture", number, len(paths))
        now = datetime.now(UTC)
        _ = self.index  # open the store first: if it is unreachable, nothing has been written
        try:
            dossier = self.get(dossier_id)
        except DossierError:
            dossier = Dossier(id=dossier_id, created_at=now, updated_at=now)
        self._drop_leftovers(dossier)
        self._ensure_indexed(dossier, progress=progress)  # unchanged files are recognised in this index
        known = {f.name: f for f in dossier.files}
        todo: list[tuple[Path, LoadedFile, list[Chunk]]] = []
        unchanged: list[str] = []
        for path, item in zip(paths, loaded, strict=True):
            previous = known.get(item.name)
            if previous and previous.sha256 == item.sha256 and self.index.has_file(dossier_id, item.sha256):
                unchanged.append(item.name)
            else:
                todo.append((path, item, chunk_file(item, self.settings.chunking)))
            if progress:
                progress("découpage", len(todo) + len(unchanged), len(loaded))
        copied: list[Path] = []
        added: list[LoadedFile] = []
        records: list[DossierFile] = []
        try:
            total = sum(len(chunks) for _, _, chunks in todo)
            done = 0
            for path, item, chunks in todo:
                record = DossierFile(
                    name=item.name,
                    sha256=item.sha256,
                    kind=str(item.kind),
                    size_bytes=item.size_bytes,
                    pages=len(item.pages),
                    paged=item.paged,
                    chunks=len(chunks),
                    warnings=item.warnings,
                    unreadable_pages=item.unreadable_pages,
                    ocr_pages=item.ocr_pages,
                    set_aside={page.number: page.set_aside for page in item.pages if page.set_aside},
                    added_at=now,
                )
                target = self.stored_file(dossier_id, record)
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    copied.append(target)
                done = self._index_chunks(dossier_id, item.sha256, chunks, done, total, progress)
                added.append(item)
                records.append(record)
            new_names = {r.name for r in records}
            updated = dossier.model_copy(
                update={
                    "updated_at": now,
                    "files": [f for f in dossier.files if f.name not in new_names] + records,
                    "collections": {**dossier.collections, self.index.name: self.index.embedder.id},
                }
            )
            self._save(updated)
        except BaseException:
            for item in added:
                self.index.remove_file(dossier_id, item.sha256)
            for target in copied:
                target.unlink(missing_ok=True)
            if not dossier.files:  # a new dossier: leave no empty folder behind
                shutil.rmtree(self.folder / dossier_id, ignore_errors=True)
            raise
        # Replaced versions go only once the manifest no longer lists them: a failure above keeps them whole.
        replaced = []
        for record in records:
            previous = known.get(record.name)
            if previous and previous.sha256 != record.sha256:
                self._forget_file(updated, previous)
                replaced.append(record.name)
        return IngestReport(dossier=updated, added=records, unchanged=unchanged, replaced=replaced)

    def _index_chunks(
        self,
        dossier_id: str,
        sha256: str,
        chunks: list[Chunk],
        done: int,
        total: int,
        progress: Progress | None,
    ) -> int:
        """Embed and add one file's chunks; returns the running count for the progress bar."""
        texts = [c.index_text for c in chunks]
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 32):
            vectors += self.index.embedder.embed_documents(texts[start : start + 32])
            done += min(32, len(texts) - start)
            if progress:
                progress("indexation", done, total)
        if self.index.has_file(dossier_id, sha256):
            self.index.remove_file(dossier_id, sha256)  # left by a run that stopped before its manifest
        self.index.add(dossier_id, chunks, vectors)
        return done

    def _forget_file(self, dossier: Dossier, record: DossierFile) -> None:
        """Remove a replaced file's chunks and its kept copy, unless the manifest still lists its content."""
        if not any(f.sha256 == record.sha256 for f in dossier.files):
            self.index.remove_file(dossier.id, record.sha256)
            self.stored_file(dossier.id, record).unlink(missing_ok=True)

    def _drop_leftovers(self, dossier: Dossier) -> None:
        """Remove what a run killed before its manifest (kill -9, power cut) left behind: chunks and
        copies of files the manifest does not list, and its temporary manifest."""
        self.index.remove_files_except(dossier.id, {f.sha256 for f in dossier.files})
        kept = {self.stored_file(dossier.id, f).name for f in dossier.files}
        files = self._files(dossier.id)
        for path in sorted(files.iterdir()) if files.is_dir() else []:
            if path.name not in kept:
                path.unlink()
        for path in (self.folder / dossier.id).glob(".manifest.*.tmp"):
            path.unlink()

    def _ensure_indexed(self, dossier: Dossier, *, progress: Progress | None = None) -> Dossier:
        """Index a dossier's kept files under the current settings if they are not yet."""
        if not dossier.files or self.index.name in dossier.collections:
            return dossier
        missing = [f.name for f in dossier.files if not self.stored_file(dossier.id, f).exists()]
        if missing:
            raise DossierError(
                f"les fichiers conservés du dossier « {dossier.id} » manquent ({', '.join(missing)}) : "
                "ingérez-les de nouveau."
            )
        # Cut every file first: under other chunking settings, the counts in the manifest do not hold.
        todo: list[tuple[str, list[Chunk]]] = []
        for record in dossier.files:
            item = read_file(
                self.stored_file(dossier.id, record), self.settings.ingest, progress=_per_file(progress, record.name)
            )
            item = item.model_copy(update={"name": record.name})
            todo.append((record.sha256, chunk_file(item, self.settings.chunking)))
        total = sum(len(chunks) for _, chunks in todo)
        done = 0
        indexed: list[str] = []
        try:
            for sha256, chunks in todo:
                done = self._index_chunks(dossier.id, sha256, chunks, done, total, progress)
                indexed.append(sha256)
        except BaseException:
            for sha in indexed:
                self.index.remove_file(dossier.id, sha)
            raise
        dossier = dossier.model_copy(
            update={"collections": {**dossier.collections, self.index.name: self.index.embedder.id}}
        )
        self._save(dossier)
        return dossier

    def delete(self, dossier_id: str) -> int:
        """Remove a dossier's chunks from every collection, its kept files and its manifest.

        Returns the number of chunks removed."""
        self.get(dossier_id)
        removed = self.index.delete_dossier(dossier_id)
        shutil.rmtree(self.folder / dossier_id)
        return removed

    def retriever(self, dossier_id: str, *, progress: Progress | None = None) -> Retriever:
        """A retriever over the dossier, indexing it first under the current settings if needed."""
        with dossier_lock(dossier_id):
            dossier = self._ensure_indexed(self.get(dossier_id), progress=progress)
        files = {f.sha256 for f in dossier.files}
        return Retriever(self.index, dossier_id, self.settings.retrieval, files=files)


def _per_file(progress: Progress | None, name: str) -> ReadProgress | None:
    """The progress of reading one file (each page, each page read by OCR), named after the file."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(f"{stage} de {name}", done, total)


def dossier_json(dossier: Dossier) -> str:
    return json.dumps(dossier.model_dump(mode="json"), ensure_ascii=False, indent=2)
