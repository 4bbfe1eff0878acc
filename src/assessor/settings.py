"""One settings object, read from ``ASSESSOR_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from assessor.chunking import ChunkSettings
from assessor.evidence_only import EvidenceOnlySettings
from assessor.index import IndexSettings
from assessor.ingest import IngestSettings
from assessor.llm import LLMSettings
from assessor.retrieval import RetrievalSettings


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


class Settings(BaseSettings):
    """Configuration of Assessor. Nested values use ``__``: ``ASSESSOR_DATA_DIR=/srv/assessor``."""

    model_config = SettingsConfigDict(
        env_prefix="ASSESSOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path("assessor-data"),
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
