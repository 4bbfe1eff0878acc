"""The manifest of a batch: which dossiers to assess, against which référentiel and blocks.

CSV (a header line, ``,`` or ``;`` separated, UTF-8 with or without BOM) or JSONL (one object
a line), with the same keys:

* ``files`` (required): the dossier's files, separated by ``|`` (a list in JSONL), relative to
  the manifest's folder or absolute;
* ``referential`` (required): a référentiel id;
* ``blocks``: block codes separated by ``|`` or ``,`` (a list in JSONL); empty means every block;
* ``candidate_id``: optional, copied to the results;
* ``dossier_key``: optional, unique in the manifest; by default the files as written, joined by ``|``.

``load_manifest`` checks everything before any work and raises ``ManifestError`` with every
problem and its line number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessor.errors import AssessorError, UnknownName
from assessor.library import Library, ReferentialError, ReferentialNotFound
from assessor.referential import Referential
from assessor.wording import listed

COLUMNS = ("files", "referential", "blocks", "candidate_id", "dossier_key")
REQUIRED = ("files", "referential")
MAX_KEY_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ManifestProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.message}" if self.line else self.message


class ManifestError(AssessorError):
    """A manifest that cannot be run; ``problems`` lists every reason (French)."""

    code = "manifeste-invalide"

    def __init__(self, path: Path, problems: list[ManifestProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"manifeste {path} : " + " ; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class ManifestEntry:
    """One dossier to assess."""

    line: int
    dossier_key: str
    candidate_id: str | None
    files: tuple[str, ...]
    """The files as written in the manifest (what the results show)."""
    paths: tuple[Path, ...]
    """The same files, resolved."""
    referential: str
    blocks: tuple[str, ...]
    """Block codes as the référentiel spells them; every block when the manifest gave none."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    sha256: str
    entries: tuple[ManifestEntry, ...]


def _split(value: Any, separators: str, field: str) -> list[str]:
    """A list from a JSON list or a separated string; ``ValueError`` for anything else."""
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ValueError(f"« {field} » doit être une liste de textes")
        items = value
    elif isinstance(value, str):
        items = re.split(f"[{re.escape(separators)}]", value)
    else:
        raise ValueError(f"« {field} » doit être un texte ou une liste")
    return [item.strip() for item in items if item.strip()]


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"« {field} » doit être un texte")
    text = str(value).strip()
    return text or None


def _rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | ManifestProblem]]:
    """(line number, raw row or the problem that prevents reading it)."""
    suffix = path.suffix.lower()
    first = text.lstrip()[:1]
    if suffix in (".jsonl", ".ndjson") or (suffix != ".csv" and first == "{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ManifestProblem(number, f"JSON invalide ({exc.msg}, colonne {exc.colno})")
                continue
            if not isinstance(row, dict):
                yield number, ManifestProblem(number, "chaque ligne doit être un objet JSON {…}")
                continue
            yield number, row
        return
    header = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: list[str] | None = None
    start = 1
    for values in reader:
        number, start = start, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if columns is None:
            columns = [v.strip().lower() for v in values]
            unknown = [c for c in columns if c not in COLUMNS]
            missing = [c for c in REQUIRED if c not in columns]
            if unknown or missing or len(set(columns)) != len(columns):
                parts = []
                if unknown:
                    parts.append(listed(unknown, "colonne inconnue"))
                if missing:
                    parts.append(listed(missing, "colonne obligatoire absente"))
                if len(set(columns)) != len(columns):
                    parts.append("colonne en double")
                yield (
                    number,
                    ManifestProblem(
                        number, f"en-tête : {' ; '.join(parts)} (colonnes possibles : {', '.join(COLUMNS)})"
                    ),
                )
                return
            continue
        if len(values) != len(columns):
            yield (
                number,
                ManifestProblem(
                    number, f"{len(values)} valeurs pour {len(columns)} colonnes (séparateur « {delimiter} »)"
                ),
            )
            continue
        yield number, dict(zip(columns, values, strict=True))


def default_key(files: list[str]) -> str:
    return "|".join(Path(f).as_posix() for f in files)


def load_manifest(path: Path, library: Library) -> Manifest:
    """Read and check a manifest; ``ManifestError`` lists every problem, with its line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(path, [ManifestProblem(None, f"lecture impossible ({exc.strerror or exc})")]) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, [ManifestProblem(None, "le fichier n'est pas en UTF-8")]) from exc
    folder = path.resolve().parent
    problems: list[ManifestProblem] = []
    entries: list[ManifestEntry] = []
    keys: dict[str, int] = {}
    referentials: dict[str, Referential | str] = {}
    for number, row in _rows(path, text):
        if isinstance(row, ManifestProblem):
            problems.append(row)
            continue
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            problems.append(
                ManifestProblem(number, f"{listed(unknown, 'clé inconnue')} (clés possibles : {', '.join(COLUMNS)})")
            )
            continue
        try:
            files = _split(row.get("files"), "|", "files")
            blocks = _split(row.get("blocks"), "|,", "blocks")
            ref_id = _text(row.get("referential"), "referential")
            candidate = _text(row.get("candidate_id"), "candidate_id")
            key = _text(row.get("dossier_key"), "dossier_key")
        except ValueError as exc:
            problems.append(ManifestProblem(number, str(exc)))
            continue
        row_problems: list[str] = []
        if not files:
            row_problems.append("aucun fichier (colonne « files »)")
        if not ref_id:
            row_problems.append("aucun référentiel (colonne « referential »)")
        paths: list[Path] = []
        for name in files:
            file_path = Path(name).expanduser()
            resolved = file_path if file_path.is_absolute() else folder / file_path
            if not resolved.exists():
                row_problems.append(f"fichier introuvable : {name} (cherché en {resolved})")
            elif not resolved.is_file():
                row_problems.append(f"« {name} » n'est pas un fichier")
            paths.append(resolved.resolve() if resolved.exists() else resolved)
        names = [p.name for p in paths]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            row_problems.append(f"plusieurs fichiers portent le même nom : {', '.join(doubled)}")
        codes: list[str] = []
        if ref_id:
            if ref_id not in referentials:
                try:
                    referentials[ref_id] = library.get(ref_id)
                except ReferentialNotFound as exc:
                    referentials[ref_id] = str(exc)
                except ReferentialError as exc:
                    referentials[ref_id] = f"le référentiel {exc.path} est invalide (assessor referentials validate)"
            ref = referentials[ref_id]
            if isinstance(ref, str):
                row_problems.append(ref)
            else:
                for code in blocks:
                    try:
                        codes.append(ref.block(code).code)
                    except UnknownName as exc:
                        row_problems.append(str(exc))
                codes = codes if blocks else [b.code for b in ref.blocks]
        key = key or (default_key(files) if files else None)
        if key is not None:
            if len(key) > MAX_KEY_CHARS or _CONTROL.search(key):
                row_problems.append(f"clé de dossier invalide (au plus {MAX_KEY_CHARS} caractères, sans saut de ligne)")
            elif key in keys:
                row_problems.append(f"clé de dossier « {key} » déjà utilisée ligne {keys[key]}")
            else:
                keys[key] = number
        problems += [ManifestProblem(number, message) for message in row_problems]
        if row_problems or key is None or ref_id is None:
            continue
        entries.append(
            ManifestEntry(
                line=number,
                dossier_key=key,
                candidate_id=candidate,
                files=tuple(files),
                paths=tuple(paths),
                referential=ref_id,
                blocks=tuple(dict.fromkeys(codes)),
            )
        )
    if not entries and not problems:
        problems.append(ManifestProblem(None, "aucun dossier dans le manifeste"))
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path=path.resolve(), sha256=hashlib.sha256(data).hexdigest(), entries=tuple(entries))
