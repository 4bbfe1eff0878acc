"""Which référentiel files there are, and the list of them answered from the last validation.

``assessor referentials list`` reads and validates every référentiel: YAML, then the pydantic
models, about 0.15 s of imports and work before the first line is printed. The listing of a file
depends only on its bytes and on the code that validates it, so it is kept in a small cache
(``$XDG_CACHE_HOME/assessor/referentials.json``), keyed by the file's path, size and modification
time and by the version of the validating code; when every file matches, the list is printed
without importing the models. Any change, or a cache that cannot be read, means a full read,
which writes the cache again (best effort: a read-only home is not an error).

Only the standard library is imported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

YAML_SUFFIXES = (".yaml", ".yml")
_PACKAGE = Path(__file__).resolve().parent
_VALIDATING_CODE = ("library.py", "referential.py", "safe_yaml.py", "__init__.py")


def shipped_referentials_dir() -> Path:
    """The référentiels shipped with Assessor: the repository folder, or the copy inside a wheel."""
    checkout = _PACKAGE.parent.parent / "referentials"
    return checkout if checkout.is_dir() else _PACKAGE / "_data" / "referentials"


def referential_files(dirs: Sequence[Path]) -> list[Path]:
    """The YAML files of these folders, folder by folder, each folder sorted by name."""
    return [
        path for folder in dirs if folder.is_dir() for path in sorted(folder.iterdir()) if path.suffix in YAML_SUFFIXES
    ]


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assessor" / "referentials.json"


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _code_stamp() -> list[list[int]]:
    """The validating code's files, stamped like the référentiels: a new version, or an edit in a
    checkout, invalidates every entry."""
    return [_stamp(_PACKAGE / name) for name in _VALIDATING_CODE]


def cached_listing(files: Sequence[Path]) -> list[dict[str, Any]] | None:
    """The listing of ``files`` from the cache, or None when any file (or the code) changed since."""
    try:
        cached = json.loads(cache_file().read_text(encoding="utf-8"))
        if cached.get("code") != _code_stamp():
            return None
        entries = []
        for path in files:
            entry = cached["files"].get(str(path.resolve()))
            if entry is None or entry["stamp"] != _stamp(path):
                return None
            entries.append({**entry["listing"], "file": str(path)})
        return entries
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remember_listing(files: Sequence[Path], entries: Sequence[dict[str, Any]]) -> None:
    """Keep the listing of ``files`` (best effort, written whole or not at all)."""
    from assessor.atomic import write_atomic

    try:
        data = {
            "code": _code_stamp(),
            "files": {
                str(path.resolve()): {"stamp": _stamp(path), "listing": {k: v for k, v in entry.items() if k != "file"}}
                for path, entry in zip(files, entries, strict=True)
            },
        }
        target = cache_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(data, ensure_ascii=False))
    except OSError:
        pass


__all__ = [
    "YAML_SUFFIXES",
    "cache_file",
    "cached_listing",
    "referential_files",
    "remember_listing",
    "shipped_referentials_dir",
]
