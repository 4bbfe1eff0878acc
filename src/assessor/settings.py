"""One settings object, read from ``ASSESSOR_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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


def get_settings() -> Settings:
    return Settings()
