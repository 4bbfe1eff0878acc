"""One settings object, read from ``ASSESSOR_*`` environment variables and a ``.env`` file.

The variables are read by ``assessor.environment`` (a few lines of the standard library) rather than
by pydantic-settings, whose import alone cost every command about 45 ms (issue 14).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from assessor.defaults import DATA_DIR, MAX_PAGES
from assessor.environment import merged, read_environment
from assessor.vocabulary import RETRIEVAL_MODE_LABELS, RetrievalMode

# Each part's settings live here, not in the part's module: reading the settings (every command does)
# must not import chunking, retrieval, the model clients or ingestion. Those modules import them from here.

BASELINE = "baseline"
"""The model name of the evidence-only assessor: no language model."""


class ChunkSettings(BaseModel):
    """How files are cut; part of the index identity (changing it builds a new index)."""

    model_config = ConfigDict(extra="forbid")

    target_chars: int = Field(default=1400, ge=200, description="Aim for chunks of about this many characters.")
    overlap_chars: int = Field(default=150, ge=0, description="Text repeated between chunks cut for size.")
    min_chars: int = Field(default=200, ge=0, description="A section shorter than this joins the next chunk.")


class IndexSettings(BaseModel):
    """Where the chunks are stored."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="URL of a Chroma server (http://host:8000) for shared deployments; "
        "by default an embedded store under the data folder.",
    )


class IngestSettings(BaseModel):
    """Limits and options of ingestion."""

    model_config = ConfigDict(extra="forbid")

    max_pages: int = Field(
        default=MAX_PAGES,
        ge=1,
        description="Largest PDF accepted, in pages (a dossier with its annexes rarely passes 300).",
    )
    max_file_mb: float = Field(default=100, gt=0, description="Largest file accepted, in megabytes.")
    max_line_chars: int = Field(
        default=2_000_000,
        ge=1000,
        description="Longest line accepted in a text file, in characters: about 1,000 pages of prose without a "
        "line break; longer, it is data rather than writing. Long lines are cut into passages between sentences.",
    )
    max_chars: int = Field(
        default=10_000_000,
        ge=1000,
        description="Most characters of text read from one file: about 5,000 pages of prose; more is not a "
        "dossier, and would tie the server up for nothing.",
    )
    max_page_content_mb: float = Field(
        default=20,
        gt=0,
        description="Largest drawing instructions of one PDF page once decompressed, in megabytes: a page of text "
        "takes tens of kilobytes, a detailed vector drawing a few megabytes.",
    )
    max_unzipped_mb: float = Field(
        default=200, gt=0, description="Largest total size of a DOCX's parts once decompressed, in megabytes."
    )
    max_zip_entries: int = Field(default=2000, ge=10, description="Most parts (zip entries) in a DOCX.")
    max_zip_ratio: float = Field(
        default=100,
        ge=10,
        description="Largest compression ratio of a DOCX part of more than 1 MB: Word's XML compresses about "
        "10 to 1; hundreds to 1 is a decompression bomb.",
    )
    max_seconds: float = Field(
        default=300,
        gt=0,
        description="Longest time to read one file, OCR included, in seconds (only when reading is isolated).",
    )
    max_memory_mb: int = Field(
        default=2048,
        ge=256,
        description="Most memory the process reading a file may take, in megabytes (only when reading is isolated).",
    )
    isolate: bool = Field(
        default=True,
        description="Read each file in a separate worker process held to max_memory_mb and max_seconds, so that a "
        "hostile file cannot exhaust the server; off, files are read in the calling process, without those two "
        "limits.",
    )
    workers: int = Field(default=2, ge=1, le=32, description="Files read at once in isolated workers.")
    ocr: bool = Field(default=True, description="OCR scanned PDF pages when tesseract is installed.")


class LLMSettings(BaseModel):
    """Which model pre-assesses, and how it is called."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default=BASELINE, description="baseline (no model) or provider:model, see assessor.llm.")
    base_url: str | None = Field(default=None, description="Server URL for compatible:, ollama: or openai:.")
    temperature: float = Field(default=0.0, ge=0, le=2)
    timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one model call.")
    max_retries: int = Field(default=3, ge=0, description="Retries of a call on 429 and 5xx (with Retry-After).")
    max_attempts: int = Field(default=3, ge=1, le=6, description="Answers asked for when one is invalid.")
    max_output_tokens: int = Field(default=1500, ge=100)
    concurrency: int = Field(default=4, ge=1, le=64, description="Criteria assessed at the same time.")
    requests_per_minute: float | None = Field(default=None, gt=0, description="Rate limit of model calls.")
    evidence_budget_chars: int = Field(
        default=4800,
        ge=500,
        description="Passage text given per criterion: about three passages, which keeps "
        "the average prompt under 3,000 tokens (benchmarks/assessment.py).",
    )
    local_only: bool = Field(default=False, description="Refuse providers that send the dossier off this machine.")
    assess_oral: bool = Field(
        default=False,
        description="Also send oral and role-play criteria to the model, when the dossier holds a written record "
        "of that situation (otherwise they are « non évaluable sur pièces écrites » without any call).",
    )
    pseudonymise: bool = Field(default=False, description="Replace personal data before any remote call.")
    price_input_per_mtok: float = Field(default=0.0, ge=0, description="€ per million input tokens, for costs.")
    price_output_per_mtok: float = Field(default=0.0, ge=0, description="€ per million output tokens.")

    def overridden(self, **changes: object) -> LLMSettings:
        """These settings with ``changes`` applied (a None value keeps the setting), validated again:
        the values come from a command line or a form."""
        kept = {name: value for name, value in changes.items() if value is not None}
        return LLMSettings.model_validate({**self.model_dump(), **kept})


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=8, ge=1, le=100, description="Passages returned per query.")
    mode: RetrievalMode = RetrievalMode.AUTO
    candidates: int = Field(default=50, ge=1, description="Candidates taken from each ranking before fusion.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    max_per_page: int = Field(default=3, ge=1, description="Diversity: passages per page in the top k.")
    context_weight: float = Field(
        default=0.1,
        ge=0,
        description="Weight, in a criterion's lexical query, of its competency statements and expected "
        "productions: they name the topic but are long and shared by all the criteria of a competency.",
    )
    page_weight: float = Field(
        default=0.5,
        ge=0,
        description="Weight of the page-level BM25 rank fused with the chunk-level rank (0: chunks only).",
    )
    specificity_weight: float = Field(
        default=1.0,
        ge=0,
        description="How much a passage that matches the block's other criteria just as well is discounted "
        "(0: no discount).",
    )
    dense_weight: float = Field(
        default=0.5,
        ge=0,
        description="Weight of the dense ranking in the fusion (BM25 counts 1). Tuned on the sample dossiers "
        "with the English all-MiniLM-L6-v2; a good multilingual model may deserve 1.",
    )


class EvidenceOnlySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        default=0.26,
        ge=0,
        le=1,
        description="Share of the criterion's topic terms a passage must contain to count as evidence "
        "(calibrated by evals/calibrate_evidence_only.py).",
    )
    confident: float = Field(
        default=0.41,
        ge=0,
        le=1,
        description="Below this share (and at or above ``threshold``) the signal is too weak to say: "
        "the passages are shown with the « signal faible » flag (calibrated with ``threshold``).",
    )
    passages: int = Field(default=3, ge=1, le=10, description="Passages quoted per criterion.")
    fit_threshold: float = Field(
        default=0.22,
        ge=0,
        le=1,
        description="Below this share of criteria with a passage that treats them, the dossier is "
        "flagged « hors référentiel » (calibrated by evals/calibrate_evidence_only.py --fit).",
    )

    @model_validator(mode="after")
    def _band(self) -> EvidenceOnlySettings:
        if self.confident < self.threshold:
            raise ValueError("confident doit être supérieur ou égal à threshold")
        return self


class EmbeddingSettings(BaseModel):
    """Which embedding model indexes the chunks (see ``assessor.embeddings``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default="none",
        description="none (lexical retrieval only, no model), st:NAME, openai:MODEL, mistral:MODEL or ollama:MODEL.",
    )
    base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible or Ollama server.")


class AppSettings(BaseModel):
    """The jury's review app (``assessor app``)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to listen on (loopback by default).")
    port: int = Field(default=7860, ge=1, le=65535)
    root_path: str = Field(default="", description="URL prefix when served behind a reverse proxy (e.g. /assessor).")
    max_upload_mb: int = Field(default=50, ge=1, description="Largest file accepted for upload, in MB.")


class Settings(BaseModel):
    """Configuration of Assessor, from ``ASSESSOR_*`` variables of the environment, then of a ``.env`` file
    in the working folder, then the defaults; values given to the constructor win over all of them.
    Nested values use ``__`` (``ASSESSOR_LLM__MODEL=…``); lists and objects are written in JSON
    (``ASSESSOR_REFERENTIALS_DIRS='["/srv/referentiels"]'``)."""

    model_config = ConfigDict(extra="ignore")

    def __init__(self, **values: Any) -> None:
        super().__init__(**merged(read_environment(type(self), prefix="ASSESSOR_"), values))

    data_dir: Path = Field(
        default=DATA_DIR,
        description="Folder for indexes, the database and uploads (created on first use).",
    )
    referentials_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra folders of référentiel YAML files, searched before the shipped ones.",
    )
    database_url: str | None = Field(
        default=None,
        description="Review database (SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db); "
        "default: SQLite file assessor.db in the data folder.",
    )
    users_file: Path | None = Field(
        default=None,
        description="YAML file of accounts with hashed passwords (assessor users add); default: users.yaml "
        "in the data folder.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit log's chain (at least 32 characters); keep it outside the database host if "
        "you can. Default: the key file (audit_key_file).",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="File holding the audit key, created on first use with owner-only permissions; default: "
        "audit.key in the data folder.",
    )
    app: AppSettings = Field(default_factory=AppSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    chunking: ChunkSettings = Field(default_factory=ChunkSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    evidence_only: EvidenceOnlySettings = Field(default_factory=EvidenceOnlySettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'assessor.db').resolve()}"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit.key"

    @property
    def resolved_users_file(self) -> Path:
        return self.users_file or self.data_dir / "users.yaml"


def get_settings() -> Settings:
    return Settings()


__all__ = [
    "BASELINE",
    "RETRIEVAL_MODE_LABELS",
    "AppSettings",
    "ChunkSettings",
    "EmbeddingSettings",
    "EvidenceOnlySettings",
    "IndexSettings",
    "IngestSettings",
    "LLMSettings",
    "RetrievalMode",
    "RetrievalSettings",
    "Settings",
    "get_settings",
]
