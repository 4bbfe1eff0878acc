"""Language-model providers, chosen by a ``provider:model`` string.

* ``openai:gpt-4o-mini`` (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``),
* ``azure_openai:DEPLOYMENT`` (``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT``, ``OPENAI_API_VERSION``),
* ``mistral:mistral-small-latest`` (``MISTRAL_API_KEY``),
* ``anthropic:claude-sonnet-4-5`` (``ANTHROPIC_API_KEY``),
* ``ollama:qwen2.5:7b`` (``OLLAMA_HOST``),
* ``compatible:MODEL`` with ``--llm-base-url`` (any OpenAI-compatible server: vLLM, llama.cpp
  server, LM Studio),
* ``gguf:smollm2`` or ``gguf:/path/to/model.gguf`` (a local file through llama-cpp-python,
  the optional ``local`` extra).

A missing key or an impossible combination is an ``LLMError`` with a French message that
names the variable to set, never its value. With ``local_only``, remote providers are refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assessor.environment import process_environment
from assessor.errors import AssessorError
from assessor.settings import LLMSettings

if TYPE_CHECKING:  # LangChain takes seconds to import: only when a model is made
    from langchain_core.language_models.chat_models import BaseChatModel


_KEYS = {
    "openai": "OPENAI_API_KEY",
    "azure_openai": "AZURE_OPENAI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
PROVIDERS = ("openai", "azure_openai", "mistral", "anthropic", "ollama", "compatible", "gguf")


class LLMError(AssessorError):
    """A model that cannot be used as configured; the message (French) says what to do."""

    code = "modele-indisponible"


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str
    remote: bool

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.name}"


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def base_urls(value: str | None) -> list[str]:
    """The server addresses of a ``base_url`` setting: one, or several separated by commas."""
    return [url.strip() for url in (value or "").split(",") if url.strip()]


def _all_loopback(urls: str | None) -> bool:
    """Every one of the (comma-separated) server addresses is on this machine."""
    servers = base_urls(urls)
    return bool(servers) and all(_is_loopback(url) for url in servers)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status a provider's client error carries (on itself or on its response), if any."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def parse_spec(spec: str, base_url: str | None = None, env: dict[str, str] | None = None) -> ModelSpec:
    """Split ``provider:model`` and say whether calls leave this machine."""
    env = dict(os.environ) if env is None else env
    provider, sep, name = spec.strip().partition(":")
    provider = {"mistralai": "mistral", "azure": "azure_openai", "llamacpp": "gguf", "local": "gguf"}.get(
        provider, provider
    )
    if not sep or not name or provider not in PROVIDERS:
        raise LLMError(
            f"modèle « {spec} » : écrivez fournisseur:modèle, le fournisseur étant l'un de "
            f"{', '.join(PROVIDERS)} (ex. openai:gpt-4o-mini, mistral:mistral-small-latest, ollama:qwen2.5:7b, "
            "gguf:smollm2), ou « baseline » pour le repérage sans modèle."
        )
    if provider == "gguf":
        remote = False
    elif provider == "ollama":
        remote = not _all_loopback(base_url or env.get("OLLAMA_HOST", "http://127.0.0.1:11434"))
    elif provider == "compatible":
        remote = not _all_loopback(base_url)
    elif provider == "openai":
        remote = not _all_loopback(base_url or env.get("OPENAI_BASE_URL"))
    else:
        remote = True
    return ModelSpec(provider, name, remote)


def _key(provider: str, env: dict[str, str]) -> str:
    variable = _KEYS[provider]
    value = env.get(variable, "").strip()
    if not value:
        raise LLMError(
            f"aucune clé d'API pour {provider} : définissez la variable {variable} (dans l'environnement ou le "
            "fichier .env), ou choisissez un modèle local (ollama:…, gguf:…) ou --llm baseline."
        )
    return value


def environment(dotenv: str = ".env") -> dict[str, str]:
    """The process environment over the ``.env`` file of the working directory, if any:
    provider keys (``OPENAI_API_KEY``…) may be kept in ``.env`` like Assessor's own settings."""
    return process_environment(Path(dotenv))


def make_chat_model(settings: LLMSettings, env: dict[str, str] | None = None) -> tuple[BaseChatModel, ModelSpec]:
    """Build the LangChain chat model named by ``settings.model`` (not ``baseline``)."""
    env = environment() if env is None else env
    spec = parse_spec(settings.model, settings.base_url, env)
    if spec.remote and settings.local_only:
        raise LLMError(
            f"« {spec.id} » enverrait le dossier hors de cette machine, ce que le réglage local_only interdit "
            "(ASSESSOR_LLM__LOCAL_ONLY) : choisissez un modèle local (ollama:…, gguf:…, compatible:… sur ce poste)."
        )
    from assessor.llm_spread import SpreadChatModel

    servers = base_urls(settings.base_url)
    if len(servers) > 1:
        if spec.provider not in ("openai", "compatible", "ollama"):
            raise LLMError(
                "plusieurs adresses de serveur ne valent que pour openai:, compatible: et ollama:, "
                f"pas {spec.provider}:."
            )
        # One client per server, each trying once: the spread retries on the next server instead.
        endpoints = [
            make_chat_model(settings.model_copy(update={"base_url": url, "max_retries": 0}), env)[0] for url in servers
        ]
        return SpreadChatModel(endpoints=endpoints, rounds=settings.max_retries + 1), spec
    common: dict[str, Any] = {"temperature": settings.temperature}
    if spec.provider in ("openai", "compatible"):
        from langchain_openai import ChatOpenAI

        base_url = settings.base_url or (env.get("OPENAI_BASE_URL") if spec.provider == "openai" else None)
        if spec.provider == "compatible" and not base_url:
            raise LLMError(
                "compatible:… demande l'adresse du serveur : --llm-base-url http://hôte:port/v1 "
                "(ou ASSESSOR_LLM__BASE_URL)."
            )
        # A server without keys still wants an Authorization header, and headers are ASCII.
        api_key = (
            _key("openai", env) if spec.provider == "openai" and not base_url else env.get("OPENAI_API_KEY", "no-key")
        )
        model: BaseChatModel = ChatOpenAI(
            model=spec.name,
            api_key=api_key,
            base_url=base_url,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            max_completion_tokens=settings.max_output_tokens,
            **common,
        )
    elif spec.provider == "azure_openai":
        from langchain_openai import AzureChatOpenAI

        for variable in ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"):
            if not env.get(variable):
                raise LLMError(f"Azure OpenAI demande la variable {variable} (dans l'environnement ou le .env).")
        model = AzureChatOpenAI(
            azure_deployment=spec.name,
            api_key=_key("azure_openai", env),
            azure_endpoint=env["AZURE_OPENAI_ENDPOINT"],
            api_version=env["OPENAI_API_VERSION"],
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            max_completion_tokens=settings.max_output_tokens,
            **common,
        )
    elif spec.provider == "mistral":
        from langchain_mistralai import ChatMistralAI

        model = ChatMistralAI(
            model_name=spec.name,
            api_key=_key("mistral", env),
            timeout=int(settings.timeout_s),
            max_retries=settings.max_retries,
            max_tokens=settings.max_output_tokens,
            **({"endpoint": settings.base_url} if settings.base_url else {}),
            **common,
        )
    elif spec.provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        model = ChatAnthropic(
            model_name=spec.name,
            api_key=_key("anthropic", env),
            default_request_timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            max_tokens_to_sample=settings.max_output_tokens,
            **common,
        )
    elif spec.provider == "ollama":
        from langchain_ollama import ChatOllama

        host = settings.base_url or env.get("OLLAMA_HOST", "http://127.0.0.1:11434")
        model = ChatOllama(
            model=spec.name,
            base_url=host if host.startswith("http") else f"http://{host}",
            num_predict=settings.max_output_tokens,
            format="json",
            **common,
        )
    else:  # gguf
        from assessor.llm_local import LlamaCppChatModel, packaged_gguf

        path = packaged_gguf(spec.name) if "/" not in spec.name and not spec.name.endswith(".gguf") else None
        model = LlamaCppChatModel(
            model_path=str(path or spec.name),
            n_ctx=8192,  # a criterion prompt is about 3,000 tokens, more with small models' tokenizers
            max_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
        )
    return model, spec
