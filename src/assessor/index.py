"""The chromadb store of chunks: embedded by default, a Chroma server by URL when shared.

The collection's name is a hash of the chunking settings and the embedder, so changing
either builds a new collection instead of mixing incompatible vectors. Records are keyed
``<dossier>:<chunk id>``: the same file may belong to two dossiers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assessor.chunking import Chunk
from assessor.embeddings import Embedder
from assessor.errors import AssessorError
from assessor.settings import ChunkSettings, IndexSettings

COLLECTION_PREFIX = "assessor-"
INDEX_FORMAT = 2  # bump when the stored metadata or the way files are read and cut changes
_ADD_BATCH = 512


class IndexError_(AssessorError):
    """The store cannot be reached or used; the message (French) says what to do."""

    code = "index-indisponible"


def collection_name(chunking: ChunkSettings, embedder_id: str) -> str:
    identity = json.dumps(
        {"format": INDEX_FORMAT, "chunking": chunking.model_dump(), "embedder": embedder_id}, sort_keys=True
    )
    return COLLECTION_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:16]


def _client(settings: IndexSettings, data_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.url:
        parsed = urlparse(settings.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise IndexError_(f"adresse du serveur Chroma invalide : « {settings.url} » (ex. http://127.0.0.1:8000)")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            raise IndexError_(
                f"serveur Chroma injoignable à {settings.url} : vérifiez qu'il tourne "
                f"(chroma run --host … --port …). Détail : {type(exc).__name__}"
            ) from exc
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _metadata(dossier_id: str, chunk: Chunk) -> dict[str, str | int | bool]:
    return {
        "dossier_id": dossier_id,
        "chunk_id": chunk.id,
        "file": chunk.file,
        "file_sha256": chunk.file_sha256,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "paged": chunk.paged,
        "locator": chunk.locator,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "heading_path": json.dumps(chunk.heading_path, ensure_ascii=False),
        "ocr": chunk.ocr,
    }


def _chunk(document: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=str(meta["chunk_id"]),
        file=str(meta["file"]),
        file_sha256=str(meta["file_sha256"]),
        page_start=int(meta["page_start"]),
        page_end=int(meta["page_end"]),
        paged=bool(meta["paged"]),
        locator=str(meta["locator"]),
        char_start=int(meta["char_start"]),
        char_end=int(meta["char_end"]),
        heading_path=json.loads(str(meta["heading_path"])),
        text=document,
        ocr=bool(meta["ocr"]),
    )


class ChunkIndex:
    """The chunks of every dossier for one (chunking, embedder) configuration."""

    def __init__(self, settings: IndexSettings, data_dir: Path, chunking: ChunkSettings, embedder: Embedder) -> None:
        self.embedder = embedder
        self.chunking = chunking
        self.name = collection_name(chunking, embedder.id)
        self._client = _client(settings, data_dir)
        try:
            self._collection = self._client.get_or_create_collection(
                self.name,
                # Vectors are always computed here: chromadb's default function would download a model.
                embedding_function=None,
                metadata={
                    "hnsw:space": "cosine",
                    "assessor:embedder": embedder.id,
                    "assessor:chunking": json.dumps(chunking.model_dump()),
                },
            )
        except Exception as exc:
            raise IndexError_(f"le magasin Chroma est inaccessible ({type(exc).__name__}: {exc}).") from exc

    def has_file(self, dossier_id: str, sha256: str) -> bool:
        found = self._collection.get(
            where={"$and": [{"dossier_id": dossier_id}, {"file_sha256": sha256}]}, limit=1, include=[]
        )
        return bool(found["ids"])

    def add(self, dossier_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Add chunks; if any batch fails, the ones already added are removed again."""
        added: list[str] = []
        try:
            for start in range(0, len(chunks), _ADD_BATCH):
                batch = chunks[start : start + _ADD_BATCH]
                ids = [f"{dossier_id}:{c.id}" for c in batch]
                self._collection.add(
                    ids=ids,
                    embeddings=[list(v) for v in vectors[start : start + _ADD_BATCH]],
                    documents=[c.text for c in batch],
                    metadatas=[_metadata(dossier_id, c) for c in batch],
                )
                added += ids
        except BaseException:
            if added:
                self._collection.delete(ids=added)
            raise

    def remove_file(self, dossier_id: str, sha256: str) -> None:
        self._collection.delete(where={"$and": [{"dossier_id": dossier_id}, {"file_sha256": sha256}]})

    def remove_files_except(self, dossier_id: str, keep: Collection[str]) -> None:
        """Remove a dossier's chunks of every file but those of ``keep`` (sha256)."""
        where: dict[str, Any] = {"dossier_id": dossier_id}
        if keep:
            where = {"$and": [where, {"file_sha256": {"$nin": sorted(keep)}}]}
        self._collection.delete(where=where)

    def chunks(self, dossier_id: str) -> list[Chunk]:
        """Every chunk of a dossier, in file and page order."""
        found = self._collection.get(where={"dossier_id": dossier_id}, include=["documents", "metadatas"])
        chunks = [_chunk(doc, meta) for doc, meta in zip(found["documents"], found["metadatas"], strict=True)]
        return sorted(chunks, key=lambda c: (c.file, c.page_start, c.char_start))

    def count(self, dossier_id: str) -> int:
        return len(self._collection.get(where={"dossier_id": dossier_id}, include=[])["ids"])

    def query(self, dossier_id: str, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        """Nearest chunks of a dossier: (chunk id, cosine similarity), best first.

        ``n`` must not exceed the dossier's chunk count (the caller knows it)."""
        if n <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[list(vector)],
            n_results=n,
            where={"dossier_id": dossier_id},
            include=["distances", "metadatas"],
        )
        return [
            (str(meta["chunk_id"]), 1.0 - float(dist))
            for meta, dist in zip(result["metadatas"][0], result["distances"][0], strict=True)
        ]

    def delete_dossier(self, dossier_id: str) -> int:
        """Remove a dossier from every Assessor collection of this store; returns the chunks removed."""
        removed = 0
        for collection in self._client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if not name.startswith(COLLECTION_PREFIX):
                continue
            col = self._client.get_collection(name, embedding_function=None)
            ids = col.get(where={"dossier_id": dossier_id}, include=[])["ids"]
            if ids:
                col.delete(ids=ids)
                removed += len(ids)
        return removed
