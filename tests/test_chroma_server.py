"""Dossiers indexed in a shared Chroma server (``index.url``): a real ``chroma run`` on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessor.datafolder import DossierError
from assessor.dossiers import DossierStore
from assessor.index import IndexError_
from assessor.settings import RetrievalMode, Settings
from servers import free_port, serving

START_TIMEOUT = 60.0


def chroma_executable() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.is_file() else shutil.which("chroma")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server for this module; it starts in about a second."""
    executable = chroma_executable()
    if executable is None:
        pytest.skip("the `chroma` executable (chromadb's CLI) is not installed: no Chroma server to test")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ANONYMIZED_TELEMETRY": "False",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [executable, "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"{url}/api/v2/heartbeat"
    with serving(command, url=heartbeat, log=folder / "server.log", env=env, timeout=START_TIMEOUT):
        yield url


SECTIONS = {
    "Prospection": "J'ai prospecté de nouveaux clients chaque matin par téléphone, qualifié leurs besoins "
    "et pris des rendez-vous pour l'équipe commerciale. Trente rendez-vous ont été obtenus ce trimestre.",
    "Négociation": "J'ai négocié le prix et les conditions de paiement d'un contrat de maintenance avec "
    "le service achats d'un hôpital, en préparant mes concessions à l'avance : remise limitée à 5 %.",
    "Tableau de bord": "Chaque lundi, je mettais à jour le tableau de bord des indicateurs de l'équipe : "
    "chiffre d'affaires, marge, taux de transformation. J'analysais les écarts aux objectifs.",
    "Logistique": "L'entrepôt a déménagé en juin ; j'ai organisé le transfert du stock et vérifié "
    "l'inventaire des pièces détachées avec le magasinier, référence par référence.",
}


def write_dossier(folder: Path, name: str = "rapport.md", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = "# Rapport d'activité\n\n" + "".join(f"## {t}\n\n{body}\n\n" for t, body in SECTIONS.items())
    path = folder / name
    path.write_text(text + extra, encoding="utf-8")
    return path


def server_store(tmp_path: Path, url: str) -> DossierStore:
    settings = Settings(
        data_dir=tmp_path / "data",
        index={"url": url},
        chunking={"target_chars": 300, "min_chars": 50},
    )
    return DossierStore(settings)


def test_ingest_stores_the_chunks_in_the_server(chroma_url: str, tmp_path: Path) -> None:
    store = server_store(tmp_path, chroma_url)
    source = write_dossier(tmp_path / "in")

    report = store.ingest("srv-ingest", [source])

    chunks = report.dossier.chunk_count
    assert [f.name for f in report.added] == ["rapport.md"]
    assert chunks >= 4
    assert store.index.count("srv-ingest") == chunks
    assert not (tmp_path / "data" / "chroma").exists()  # no embedded store beside the server
    assert (tmp_path / "data" / "dossiers" / "srv-ingest" / "manifest.json").is_file()

    # Another deployment pointed at the same server sees the same chunks.
    other = server_store(tmp_path / "elsewhere", chroma_url)
    assert other.index.name == store.index.name
    assert other.index.count("srv-ingest") == chunks
    assert {c.id for c in other.index.chunks("srv-ingest")} == {c.id for c in store.index.chunks("srv-ingest")}


def test_reingesting_the_same_file_is_a_no_op(chroma_url: str, tmp_path: Path) -> None:
    store = server_store(tmp_path, chroma_url)
    source = write_dossier(tmp_path / "in")
    first = store.ingest("srv-noop", [source])

    again = server_store(tmp_path, chroma_url).ingest("srv-noop", [source])

    assert again.unchanged == ["rapport.md"]
    assert again.added == []
    assert again.replaced == []
    assert again.dossier.files == first.dossier.files
    assert store.index.count("srv-noop") == first.dossier.chunk_count


def test_a_changed_file_replaces_its_chunks(chroma_url: str, tmp_path: Path) -> None:
    store = server_store(tmp_path, chroma_url)
    first = store.ingest("srv-replace", [write_dossier(tmp_path / "v1")])
    old_ids = {c.id for c in store.index.chunks("srv-replace")}

    extra = "## Formation\n\nJ'ai suivi une formation à la négociation d'achats hospitaliers.\n"
    second = store.ingest("srv-replace", [write_dossier(tmp_path / "v2", extra=extra)])

    assert second.replaced == ["rapport.md"]
    assert [f.sha256 for f in second.dossier.files] != [f.sha256 for f in first.dossier.files]
    chunks = store.index.chunks("srv-replace")
    assert len(chunks) == second.dossier.chunk_count
    assert not old_ids & {c.id for c in chunks}  # chunk ids carry the file's hash
    assert {c.file_sha256 for c in chunks} == {second.dossier.files[0].sha256}


@pytest.mark.parametrize("mode", [RetrievalMode.LEXICAL, RetrievalMode.DENSE, RetrievalMode.FUSED])
def test_search_returns_passages(chroma_url: str, tmp_path: Path, mode: RetrievalMode) -> None:
    store = server_store(tmp_path, chroma_url)
    store.ingest(f"srv-search-{mode}", [write_dossier(tmp_path / "in")])
    retriever = store.retriever(f"srv-search-{mode}")

    passages = retriever.search("tableau de bord des indicateurs", k=3, mode=mode)

    assert 1 <= len(passages) <= 3
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    assert "Tableau de bord" in passages[0].chunk.heading_path
    if mode is not RetrievalMode.LEXICAL:
        # The hashing signature's nearest neighbours, computed by the server.
        assert passages[0].dense_rank == 1
        assert passages[0].dense_score is not None and passages[0].dense_score > 0


def test_delete_removes_every_chunk_and_the_manifest(chroma_url: str, tmp_path: Path) -> None:
    store = server_store(tmp_path, chroma_url)
    source = write_dossier(tmp_path / "in")
    report = store.ingest("srv-delete", [source])
    kept = store.ingest("srv-delete-neighbour", [source])  # same collection, same file

    removed = store.delete("srv-delete")

    assert removed == report.dossier.chunk_count > 0
    assert store.index.count("srv-delete") == 0
    assert not (tmp_path / "data" / "dossiers" / "srv-delete").exists()
    with pytest.raises(DossierError, match="introuvable"):
        store.get("srv-delete")
    # The other dossier holding the same file keeps its chunks.
    assert store.index.count("srv-delete-neighbour") == kept.dossier.chunk_count


def test_a_closed_port_is_a_clear_error_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = server_store(tmp_path, url)
    with pytest.raises((DossierError, IndexError_)) as caught:
        store.ingest("srv-closed", [write_dossier(tmp_path / "in")])
    message = str(caught.value)
    assert url in message
    assert "injoignable" in message
    assert "Traceback" not in message
    # Nothing kept: no manifest, no copy of the file (an empty folder may remain).
    assert [p for p in (tmp_path / "data").rglob("*") if p.is_file()] == []
    assert store.all() == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8000", "127.0.0.1:8000", "http://"])
def test_an_invalid_url_is_a_clear_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(IndexError_, match="adresse du serveur Chroma invalide") as caught:
        server_store(tmp_path, url).index  # noqa: B018
    assert url in str(caught.value)
