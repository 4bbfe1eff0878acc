"""Nothing half-indexed remains after an error (issue 12, « Bad input »).

A dossier holds one file; a second batch fails midway: a corrupt file, the embedder or the
store failing at some chunk, the manifest that cannot be written, the user pressing Ctrl-C.
Afterwards every chromadb collection holds exactly the records it held before, and the
dossier's folder (manifest, kept files) is the same byte for byte, with no temporary file.

A process killed outright (kill -9, power cut) cleans nothing: what it left is never searched,
and the next ingestion into the dossier removes it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from assessor.dossiers import DossierStore
from assessor.embeddings import HashingEmbedder
from assessor.index import COLLECTION_PREFIX, ChunkIndex
from assessor.ingest import IngestError
from assessor.settings import ChunkSettings, Settings
from test_bad_inputs import snapshot, write_pdf

DOSSIER = "2026-durand-camille"


class Boom(Exception):
    """The failure a test injects."""


class FailingEmbedder(HashingEmbedder):
    """The default embedder (same id, same collection), failing at its ``fail_at``-th batch."""

    def __init__(self, fail_at: int, error: BaseException) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.error = error

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error
        return super().embed_documents(texts)


def store_state(data: Path) -> dict[str, Any]:
    """Every record of every Assessor collection (ids, texts, metadata), and the dossiers' files."""
    client = DossierStore(Settings(data_dir=data)).index._client
    records: dict[str, Any] = {}
    for collection in client.list_collections():
        name = collection if isinstance(collection, str) else collection.name
        if name.startswith(COLLECTION_PREFIX):
            got = client.get_collection(name, embedding_function=None).get(include=["documents", "metadatas"])
            metadatas = [sorted(m.items()) for m in got["metadatas"]]
            records[name] = sorted(zip(got["ids"], got["documents"], map(repr, metadatas), strict=True))
    return {"collections": records, "files": snapshot(data / "dossiers")}


@pytest.fixture
def dossier(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A dossier holding one file, and two more files ready to be added (the second one long)."""
    data = tmp_path / "data"
    DossierStore(Settings(data_dir=data)).ingest(DOSSIER, [write_pdf(tmp_path / "premier.pdf", 3, seed=1)])
    batch = [write_pdf(tmp_path / "annexe.pdf", 4, seed=2), write_pdf(tmp_path / "rapport.pdf", 40, seed=3)]
    return data, batch


def fails(data: Path, paths: list[Path], error: type[BaseException], **store: Any) -> None:
    before = store_state(data)
    with pytest.raises(error):
        DossierStore(Settings(data_dir=data), **store).ingest(DOSSIER, paths)
    assert store_state(data) == before


def test_a_corrupt_file_after_a_good_one_changes_nothing(dossier: tuple[Path, list[Path]], tmp_path: Path) -> None:
    data, batch = dossier
    corrupt = tmp_path / "corrompu.pdf"
    corrupt.write_bytes(batch[1].read_bytes()[:2000])
    fails(data, [batch[0], corrupt], IngestError)


@pytest.mark.parametrize("error", [Boom("embedder"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_the_embedder_failing_on_the_second_file_changes_nothing(
    dossier: tuple[Path, list[Path]], error: BaseException
) -> None:
    data, batch = dossier
    # Batches of 32 chunks: the first file takes one, the second fails at its second batch.
    fails(data, batch, type(error), embedder=FailingEmbedder(3, error))


def test_the_store_failing_on_the_second_file_changes_nothing(
    dossier: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, batch = dossier
    add = ChunkIndex.add
    calls: list[int] = []

    def add_then_fail(self: ChunkIndex, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Boom("chroma")
        add(self, *args)

    monkeypatch.setattr(ChunkIndex, "add", add_then_fail)
    fails(data, batch, Boom)


def test_a_manifest_that_cannot_be_written_changes_nothing(
    dossier: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, batch = dossier
    monkeypatch.setattr(Path, "replace", _raise(OSError(28, "No space left on device")))
    fails(data, batch, OSError)


def test_a_replaced_file_keeps_its_old_version_when_the_new_one_fails(
    dossier: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = dossier
    (tmp_path / "nouveau").mkdir()
    changed = write_pdf(tmp_path / "nouveau" / "premier.pdf", 5, seed=9)  # same name, new content
    fails(data, [changed], Boom, embedder=FailingEmbedder(1, Boom("embedder")))
    monkeypatch.setattr(Path, "replace", _raise(OSError(28, "No space left on device")))
    fails(data, [changed], OSError)


def test_a_failed_first_ingestion_leaves_no_dossier(tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = [write_pdf(tmp_path / "annexe.pdf", 4, seed=2), write_pdf(tmp_path / "rapport.pdf", 40, seed=3)]
    with pytest.raises(Boom):
        DossierStore(Settings(data_dir=data), embedder=FailingEmbedder(3, Boom("embedder"))).ingest(DOSSIER, batch)
    assert not (data / "dossiers" / DOSSIER).exists()
    assert DossierStore(Settings(data_dir=data)).index.count(DOSSIER) == 0


def test_reindexing_that_fails_midway_leaves_nothing_in_the_new_collection(
    dossier: tuple[Path, list[Path]],
) -> None:
    data, batch = dossier
    DossierStore(Settings(data_dir=data)).ingest(DOSSIER, batch)
    before = store_state(data)
    other = Settings(data_dir=data, chunking=ChunkSettings(target_chars=600))
    with pytest.raises(Boom):
        DossierStore(other, embedder=FailingEmbedder(4, Boom("embedder"))).retriever(DOSSIER)
    assert store_state(data) == {**before, "collections": {**before["collections"], _name(other): []}}


def _name(settings: Settings) -> str:
    return DossierStore(settings).index.name


def _raise(error: BaseException) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fail


KILLED_MIDWAY = """
import os, sys
from pathlib import Path
from assessor.dossiers import DossierStore
from assessor.embeddings import HashingEmbedder
from assessor.settings import Settings

class Killed(HashingEmbedder):
    calls = 0

    def embed_documents(self, texts):
        Killed.calls += 1
        if Killed.calls == 3:
            os._exit(137)  # as kill -9: no exception, no cleanup
        return super().embed_documents(texts)

store = DossierStore(Settings(data_dir=Path(sys.argv[1])), embedder=Killed())
store.ingest(sys.argv[2], [Path(p) for p in sys.argv[3:]])
"""


def test_what_a_killed_run_left_is_never_searched_and_goes_at_the_next_ingestion(
    dossier: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    data, batch = dossier
    before = DossierStore(Settings(data_dir=data)).retriever(DOSSIER).chunks
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MIDWAY, str(data), DOSSIER, *map(str, batch)], check=False, capture_output=True
    )
    assert killed.returncode == 137, killed.stderr
    store = DossierStore(Settings(data_dir=data))
    dossier_record = store.get(DOSSIER)
    assert [f.name for f in dossier_record.files] == ["premier.pdf"]
    assert store.index.count(DOSSIER) > dossier_record.chunk_count  # the first file of the batch was indexed
    assert len(list((data / "dossiers" / DOSSIER / "files").iterdir())) == 3  # and both were copied

    assert store.retriever(DOSSIER).chunks == before

    report = store.ingest(DOSSIER, [write_pdf(tmp_path / "lettre.pdf", 2, seed=4)])
    assert [f.name for f in report.dossier.files] == ["premier.pdf", "lettre.pdf"]
    assert store.index.count(DOSSIER) == report.dossier.chunk_count
    kept = sorted(p.name for p in (data / "dossiers" / DOSSIER / "files").iterdir())
    assert kept == sorted(store.stored_file(DOSSIER, f).name for f in report.dossier.files)
