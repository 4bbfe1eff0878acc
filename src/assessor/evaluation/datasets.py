"""Evaluation datasets: a jury's outcome for every criterion of labelled dossiers.

One labelled dossier (:class:`DossierLabels`) is the jury's outcome per criterion, with
optionally the gold evidence (file, page, verbatim quote) and the jury's comment. The sample
dossiers' ``labels.json`` files are already in this format (their extra keys, such as the
distractors, are ignored), so they are used where they are, never copied.

A dataset is read from (see ``evals/README.md``):

- a manifest (``.yaml``/``.yml``) that lists labels files, relative to the manifest;
- a JSON Lines file (``.jsonl``), one labelled dossier per line, as written by
  :func:`import_review_grid` (``assessor eval import``);
- a single labels file (``.json``);
- a folder: every ``*/labels.json`` under it (the layout of ``sample_dossiers/``).

Every failure is a :class:`DatasetError` with a French message that names the file.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assessor.errors import AssessorError
from assessor.results import EVIDENCE_TO_EXAMINE
from assessor.review.domain import CSV_COLUMNS
from assessor.wording import counted, listed

OUTCOME_PATTERN = r"^[a-z][a-z0-9_]*$"


class DatasetError(AssessorError):
    """A dataset or a review grid that cannot be read; the message (French) says why and what to do."""

    code = "jeu-de-donnees-invalide"


class GoldEvidence(BaseModel):
    """A passage a jury would cite for a criterion: a verbatim quote, and where it is."""

    model_config = ConfigDict(extra="ignore")

    quote: str = Field(min_length=1)
    file: str | None = Field(default=None, description="File name as ingested (e.g. dossier.pdf).")
    page: int | None = Field(default=None, ge=1, description="Page where the quote starts (section for a DOCX).")
    page_end: int | None = Field(default=None, ge=1, description="Last page, for a quote across a page break.")


class CriterionLabel(BaseModel):
    """The jury's outcome for one criterion."""

    model_config = ConfigDict(extra="ignore")

    criterion_id: str = Field(min_length=1)
    outcome: str = Field(pattern=OUTCOME_PATTERN, description="A level of the scale or a non-verdict code.")
    evidence: list[GoldEvidence] = Field(default_factory=list)
    comment: str = ""
    action: str | None = Field(
        default=None, description="From a review export: accepte (proposal accepted) or modifie (overridden)."
    )

    @field_validator("outcome")
    @classmethod
    def _not_evidence_to_examine(cls, value: str) -> str:
        if value == EVIDENCE_TO_EXAMINE:
            raise ValueError("« a_examiner » n'est pas une décision du jury")
        return value


class LabelFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    pages: int | None = None


class DossierLabels(BaseModel):
    """One labelled dossier."""

    model_config = ConfigDict(extra="ignore")

    dossier: str = Field(min_length=1, description="The dossier's key: matched with a run's dossier_key or id.")
    candidate_id: str | None = Field(default=None, description="Matched with a run's candidate_id.")
    referential: str | None = None
    referential_version: str | None = None
    block: str | None = None
    files: list[LabelFile] = Field(default_factory=list)
    criteria: list[CriterionLabel] = Field(min_length=1)
    source: str | None = Field(default=None, description="Where the labels come from (annotation, signed review…).")

    @field_validator("criteria")
    @classmethod
    def _distinct_criteria(cls, criteria: list[CriterionLabel]) -> list[CriterionLabel]:
        ids = [c.criterion_id for c in criteria]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(f"critère en double : {', '.join(doubled)}")
        return criteria


@dataclass
class Dataset:
    """Labelled dossiers, in the order they were listed."""

    name: str
    entries: list[DossierLabels]
    path: Path | None = None
    description: str = ""
    dossier_files: dict[str, list[Path]] = field(default_factory=dict)
    """For a manifest that lists them: the dossier's files, by dossier key (used to run assessments)."""

    def __post_init__(self) -> None:
        keys = [e.dossier for e in self.entries]
        doubled = sorted({k for k in keys if keys.count(k) > 1})
        if doubled:
            raise DatasetError(f"jeu d'évaluation « {self.name} » : dossier étiqueté deux fois : {', '.join(doubled)}.")


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "racine"
        parts.append(f"{where} : {error['msg']}")
    return " ; ".join(parts)


def parse_labels(data: Any, where: str) -> DossierLabels:
    try:
        return DossierLabels.model_validate(data)
    except ValidationError as exc:
        raise DatasetError(f"{where} : étiquettes invalides ({_validation_message(exc)}).") from exc


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise DatasetError(f"{path} : fichier introuvable.") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} : le fichier n'est pas en UTF-8.") from exc
    except OSError as exc:
        raise DatasetError(f"{path} : lecture impossible ({exc.strerror or exc}).") from exc


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where} : JSON invalide ({exc.msg}, ligne {exc.lineno}).") from exc


def load_labels_json(path: Path) -> DossierLabels:
    """One labelled dossier from a JSON file (such as ``sample_dossiers/*/labels.json``)."""
    return parse_labels(_json(_read_text(path), str(path)), str(path))


def load_labels_jsonl(path: Path) -> list[DossierLabels]:
    """Labelled dossiers from a JSON Lines file, one per non-empty line."""
    entries = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            where = f"{path}, ligne {number}"
            entries.append(parse_labels(_json(line, where), where))
    if not entries:
        raise DatasetError(f"{path} : aucun dossier étiqueté.")
    return entries


def _manifest(path: Path) -> Dataset:
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path} : YAML invalide ({exc}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("dossiers", []), list):
        raise DatasetError(f"{path} : un manifeste doit être un objet avec une liste « dossiers ».")
    unknown = sorted(set(data) - {"name", "description", "dossiers"})
    if unknown:
        raise DatasetError(f"{path} : clé inconnue dans le manifeste : {', '.join(unknown)}.")
    base = path.parent
    entries: list[DossierLabels] = []
    files: dict[str, list[Path]] = {}
    for position, item in enumerate(data.get("dossiers") or [], start=1):
        where = f"{path}, dossier n° {position}"
        if not isinstance(item, dict) or not isinstance(item.get("labels"), str):
            raise DatasetError(f"{where} : chaque dossier doit donner « labels: CHEMIN ».")
        extra = sorted(set(item) - {"labels", "key", "candidate_id", "files"})
        if extra:
            raise DatasetError(f"{where} : clé inconnue : {', '.join(extra)}.")
        labels_path = (base / item["labels"]).resolve()
        found = load_labels_jsonl(labels_path) if labels_path.suffix == ".jsonl" else [load_labels_json(labels_path)]
        if len(found) > 1 and ("key" in item or "files" in item or "candidate_id" in item):
            raise DatasetError(f"{where} : « key », « candidate_id » et « files » ne valent que pour un seul dossier.")
        for entry in found:
            updates = {k: item[k] for k in ("candidate_id",) if k in item}
            if "key" in item:
                updates["dossier"] = str(item["key"])
            labelled = entry.model_copy(update=updates)
            entries.append(labelled)
            if "files" in item:
                if not isinstance(item["files"], list):
                    raise DatasetError(f"{where} : « files » doit être une liste de chemins.")
                paths = [(base / str(f)).resolve() for f in item["files"]]
                missing = [str(p) for p in paths if not p.exists()]
                if missing:
                    raise DatasetError(f"{where} : fichier du dossier introuvable : {', '.join(missing)}.")
                files[labelled.dossier] = paths
    if not entries:
        raise DatasetError(f"{path} : le manifeste ne liste aucun dossier.")
    return Dataset(
        name=str(data.get("name") or path.stem),
        entries=entries,
        path=path,
        description=str(data.get("description") or ""),
        dossier_files=files,
    )


def load_dataset(path: Path) -> Dataset:
    """A dataset from a manifest, a JSON Lines file, a labels JSON file or a folder (see the module docstring)."""
    if path.is_dir():
        found = sorted(path.glob("*/labels.json"))
        if not found:
            raise DatasetError(f"{path} : aucun fichier */labels.json dans ce dossier.")
        return Dataset(name=path.name, entries=[load_labels_json(p) for p in found], path=path)
    if not path.exists():
        raise DatasetError(f"{path} : fichier introuvable.")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _manifest(path)
    if suffix == ".jsonl":
        return Dataset(name=path.stem, entries=load_labels_jsonl(path), path=path)
    if suffix == ".json":
        return Dataset(name=path.stem, entries=[load_labels_json(path)], path=path)
    raise DatasetError(
        f"{path} : format non reconnu ; donnez un manifeste .yaml, un fichier .jsonl ou .json d'étiquettes, "
        "ou un dossier contenant des */labels.json."
    )


def dumps_jsonl(entries: Iterable[DossierLabels]) -> str:
    return "".join(e.model_dump_json(exclude_none=True) + "\n" for e in entries)


# --- The review app's CSV export (the jury's filled grid) -----------------------------------

REVIEW_COLUMNS = list(CSV_COLUMNS)
REQUIRED_COLUMNS = (
    "review_id",
    "candidate",
    "referential_id",
    "criterion_id",
    "jury_action",
    "jury_outcome",
    "jury_comment",
    "review_status",
)
ACCEPTED = "accepte"
OVERRIDDEN = "modifie"
SIGNED = "signee"
SUPERSEDED = "remplacee"


def _plain(value: str) -> str:
    """Lower case without accents: « Signée » -> « signee » (exports may carry codes or labels)."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "_")


@dataclass
class GridImport:
    """Labels read from a review export, with what was left out."""

    entries: list[DossierLabels]
    undecided: int = 0
    warnings: list[str] = field(default_factory=list)


def _status_words(status: str) -> str:
    return {"en_cours": "en cours", SUPERSEDED: "remplacée par une révision", "": "inconnu"}.get(status, status)


def import_review_grid(path: Path, *, dossier_key: str | None = None, allow_unsigned: bool = False) -> GridImport:
    """The jury's decisions of a review app export (UTF-8 with BOM, ``;``) as labelled dossiers.

    One labelled dossier per review. A row without a jury action was not decided: it is left
    out and counted. A review that is not signed is refused unless ``allow_unsigned``.
    """
    reviews = _grid_reviews(path)
    if dossier_key and len(reviews) > 1:
        raise DatasetError(
            f"{path} : l'export contient {len(reviews)} revues ; --dossier-key ne vaut que pour une seule revue."
        )
    result = GridImport(entries=[])
    for review_id, rows in reviews.items():
        entry = _review_labels(path, review_id, rows, result, dossier_key=dossier_key, allow_unsigned=allow_unsigned)
        if entry is not None:
            result.entries.append(entry)
    if not result.entries:
        raise DatasetError(
            f"{path} : aucune décision du jury dans cet export ({counted(result.undecided, 'ligne')} sans décision)."
        )
    keys = [e.dossier for e in result.entries]
    doubled = sorted({k for k in keys if keys.count(k) > 1})
    if doubled:
        raise DatasetError(
            f"{path} : plusieurs revues pour le même candidat ({', '.join(doubled)}) ; exportez-les séparément."
        )
    return result


def _grid_reviews(path: Path) -> dict[str, list[dict[str, str]]]:
    """The export's rows (cells stripped, blank rows skipped), by review, after checking it is one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError(f"{path} : fichier introuvable.") from exc
    except OSError as exc:
        raise DatasetError(f"{path} : lecture impossible ({exc.strerror or exc}).") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path} : le fichier n'est pas en UTF-8 ; exportez la grille depuis l'application."
        ) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DatasetError(f"{path} : fichier vide.")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hint = (
            " Le séparateur attendu est « ; » (export de l'application de revue)."
            if len(header) == 1 and "," in header[0]
            else ""
        )
        raise DatasetError(f"{path} : {listed(missing, 'colonne obligatoire absente')}.{hint}")
    reader.fieldnames = header
    reviews: dict[str, list[dict[str, str]]] = {}
    for row in reader:
        cleaned = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cleaned.values()):
            continue
        if not cleaned.get("review_id") or not cleaned.get("criterion_id"):
            raise DatasetError(f"{path}, ligne {reader.line_num} : review_id ou criterion_id vide.")
        reviews.setdefault(cleaned["review_id"], []).append(cleaned)
    if not reviews:
        raise DatasetError(f"{path} : aucune ligne de décision.")
    return reviews


def _review_labels(
    path: Path,
    review_id: str,
    rows: list[dict[str, str]],
    result: GridImport,
    *,
    dossier_key: str | None,
    allow_unsigned: bool,
) -> DossierLabels | None:
    """One review's decided criteria as a labelled dossier (None when it has none: a warning says so);
    an unsigned review is refused unless ``allow_unsigned``."""
    first = rows[0]
    status = _plain(first.get("review_status", ""))
    who = first.get("candidate") or review_id
    if status != SIGNED and not allow_unsigned:
        raise DatasetError(
            f"{path} : la revue {review_id} ({who}) n'est pas signée (statut : {_status_words(status)}). "
            "Seule une revue signée fait foi ; faites-la signer, ou relancez avec --allow-unsigned."
        )
    if status != SIGNED:
        result.warnings.append(f"revue {review_id} ({who}) non signée (statut : {_status_words(status)}).")
    criteria = _criterion_labels(path, review_id, rows, result)
    if not criteria:
        result.warnings.append(f"revue {review_id} ({who}) : aucun critère décidé, revue ignorée.")
        return None
    blocks = sorted({r.get("block", "") for r in rows if r.get("block")})
    return DossierLabels(
        dossier=dossier_key or first.get("candidate") or review_id,
        candidate_id=first.get("candidate") or None,
        referential=first.get("referential_id") or None,
        referential_version=first.get("referential_version") or None,
        block=blocks[0] if len(blocks) == 1 else None,
        criteria=criteria,
        source=_grid_source(review_id, first, status),
    )


def _criterion_labels(
    path: Path, review_id: str, rows: list[dict[str, str]], result: GridImport
) -> list[CriterionLabel]:
    """The jury's outcome of each decided criterion (an accepted proposal takes the machine's
    outcome); undecided rows are counted, a criterion given twice is refused."""
    criteria: list[CriterionLabel] = []
    seen: set[str] = set()
    for row in rows:
        criterion_id = row["criterion_id"]
        if criterion_id in seen:
            raise DatasetError(f"{path} : la revue {review_id} contient deux fois le critère {criterion_id}.")
        seen.add(criterion_id)
        action = _plain(row.get("jury_action", ""))
        if not action:
            result.undecided += 1
            continue
        if action not in (ACCEPTED, OVERRIDDEN):
            raise DatasetError(
                f"{path} : action du jury inconnue « {row['jury_action']} » pour {criterion_id} "
                f"(attendu : {ACCEPTED} ou {OVERRIDDEN})."
            )
        outcome = row.get("jury_outcome") or (row.get("machine_outcome", "") if action == ACCEPTED else "")
        if not outcome:
            result.warnings.append(f"{criterion_id} : décision sans résultat, ignorée.")
            continue
        try:
            criteria.append(
                CriterionLabel(
                    criterion_id=criterion_id, outcome=outcome, comment=row.get("jury_comment", ""), action=action
                )
            )
        except ValidationError as exc:
            raise DatasetError(
                f"{path} : résultat du jury invalide « {outcome} » pour {criterion_id} ({_validation_message(exc)})."
            ) from exc
    return criteria


def _grid_source(review_id: str, first: dict[str, str], status: str) -> str:
    """Where the labels come from, in words: the review, its revision, who signed and when, the model."""
    source = f"revue {review_id}" + (f", révision {first['revision']}" if first.get("revision") else "")
    signer = first.get("signed_by_name") or first.get("signed_by") or ""
    source += f", signée par {signer}" if status == SIGNED and signer else f", statut {_status_words(status)}"
    if first.get("signed_at") and status == SIGNED:
        source += f" le {first['signed_at']}"
    if first.get("machine_model"):
        source += f" ; proposition de {first['machine_model']}"
    return source
