"""Finding, loading and validating référentiel YAML files.

Every problem found in a file is reported with the file, the line, a readable place
("bloc B1 › compétence C.1.1b › statement") and a French message a certifier can act on,
never as a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from assessor import referential as model, safe_yaml
from assessor.catalogue import referential_files, shipped_referentials_dir
from assessor.errors import AssessorError, UnknownName
from assessor.referential import Loc, Referential, semantic_errors, semantic_warnings
from assessor.wording import counted

if TYPE_CHECKING:
    from assessor.settings import Settings

MAX_REFERENTIAL_BYTES = 5_000_000
"""The largest référentiel shipped is about 60 kB; an RNCP title with every block and criterion stays far under."""


class Severity(StrEnum):
    ERROR = "erreur"
    WARNING = "avertissement"


@dataclass(frozen=True)
class Problem:
    """One problem in a référentiel file, located for a human."""

    file: Path
    line: int | None
    place: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        place = f" [{self.place}]" if self.place else ""
        return f"{where}:{place} {self.severity} : {self.message}"


class ReferentialError(AssessorError):
    """A référentiel file that cannot be loaded; ``problems`` says why and where."""

    code = "referentiel-invalide"

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ReferentialNotFound(UnknownName):
    """No référentiel with that id in the library."""

    code = "referentiel-introuvable"

    def __init__(self, ref_id: str, known: list[str]) -> None:
        close = difflib.get_close_matches(ref_id, known, n=1)
        hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
        self.message = (
            f"Référentiel « {ref_id} » introuvable.{hint} "
            f"Référentiels disponibles : {', '.join(known) or 'aucun'} "
            "(voir « assessor referentials list »)."
        )
        super().__init__(self.message)


try:  # libyaml's parser: the pure-Python one takes seconds for the shipped files
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _StrictLoader(_SafeLoader):
    """A safe loader that refuses duplicate keys, which PyYAML would silently overwrite."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"clé « {key} » en double (déjà définie ligne {seen[key].start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def check_file(path: Path) -> tuple[Referential | None, list[Problem]]:
    """Load one file and return the référentiel (None if it has errors) with every problem found."""
    try:
        text = safe_yaml.read_capped(path, MAX_REFERENTIAL_BYTES)
    except safe_yaml.YamlLimitError as exc:
        return None, [Problem(path, None, "", f"{exc} Un référentiel tient en quelques centaines de ko.")]
    except UnicodeDecodeError as exc:
        return None, [
            Problem(
                path,
                None,
                "",
                f"le fichier n'est pas en UTF-8 (octet {exc.start}) ; enregistrez-le en UTF-8 depuis votre éditeur",
            )
        ]
    except OSError as exc:
        return None, [Problem(path, None, "", f"lecture impossible : {exc.strerror or exc}")]
    try:
        data, root = safe_yaml.load(text, _StrictLoader)
    except safe_yaml.YamlLimitError as exc:
        return None, [Problem(path, None, "", str(exc))]
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(path, exc)]
    if not isinstance(data, dict):
        return None, [
            Problem(
                path,
                1,
                "",
                "le fichier doit décrire un référentiel (des champs « clé: valeur »), voir docs/authoring.md",
            )
        ]
    try:
        ref = Referential.model_validate(data, context={"defer_semantics": True})
    except ValidationError as exc:
        return None, [
            Problem(path, _line(root, err["loc"]), _place(data, err["loc"]), _message(err)) for err in exc.errors()
        ]
    errors = [Problem(path, _line(root, loc), _place(data, loc), msg) for loc, msg in semantic_errors(ref)]
    warnings = [
        Problem(path, _line(root, loc), _place(data, loc), msg, Severity.WARNING) for loc, msg in semantic_warnings(ref)
    ]
    if path.stem != ref.id:
        warnings.append(
            Problem(
                path,
                _line(root, ("id",)),
                "id",
                f"le fichier devrait s'appeler « {ref.id}.yaml » "
                "(même nom que l'identifiant), pour qu'on le retrouve facilement",
                Severity.WARNING,
            )
        )
    return (None if errors else ref), errors + warnings


def load_referential(path: Path) -> Referential:
    """Load a référentiel file; ``ReferentialError`` lists every problem if it is not valid."""
    ref, problems = check_file(path)
    if ref is None:
        raise ReferentialError(path, [p for p in problems if p.severity is Severity.ERROR])
    return ref


class Library:
    """The référentiels available: extra folders from the settings first, then the shipped ones."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._cache: dict[Path, Referential] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Library:
        return cls([*settings.referentials_dirs, shipped_referentials_dir()])

    def files(self) -> list[Path]:
        return referential_files(self.dirs)

    def load(self, path: Path) -> Referential:
        if path not in self._cache:
            self._cache[path] = load_referential(path)
        return self._cache[path]

    def all(self) -> Iterator[tuple[Path, Referential | ReferentialError]]:
        """Every file with its référentiel, or the error that prevents loading it."""
        for path in self.files():
            try:
                yield path, self.load(path)
            except ReferentialError as exc:
                yield path, exc

    def get(self, ref_id: str) -> Referential:
        """The référentiel with this id; the first folder that has it wins."""
        known: list[str] = []
        for path in self.files():
            # The file name is the id by convention, which spares reading every file; a file
            # whose id differs from its name is still found by the scan below.
            if path.stem == ref_id and self.load(path).id == ref_id:
                return self.load(path)
        for _, item in self.all():
            if isinstance(item, Referential):
                if item.id == ref_id:
                    return item
                known.append(item.id)
        raise ReferentialNotFound(ref_id, known)


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return Problem(
        path,
        line,
        "",
        f"YAML illisible : {problem}. Vérifiez l'indentation (des espaces, pas de tabulations), "
        "les deux-points après chaque clé et les guillemets autour des textes "
        "qui contiennent « : » ou « # ».",
    )


def _line(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest YAML node reached by following ``loc``."""
    node = root
    if node is None:
        return None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


_NAMES = {
    "blocks": "bloc",
    "competencies": "compétence",
    "modalities": "modalité",
    "activities": "activité",
    "groups": "groupe",
    "levels": "niveau",
}


def _place(data: Any, loc: Loc) -> str:
    """A readable place: ``bloc B1 › compétence C.1.1b › statement``."""
    parts: list[str] = []
    node: Any = data
    parent_key: str | int | None = None
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            label = next(
                (str(item[k]) for k in ("code", "key", "id") if isinstance(item, dict) and k in item),
                f"n°{part + 1}",
            )
            what = _NAMES.get(str(parent_key), "élément")
            if parent_key == "criteria":
                what = "jeu de critères" if len(parts) == 1 else "critère"
            parts.append(f"{what} {label}")
            node = item
        elif isinstance(part, str):
            if not isinstance(node, dict) or part not in (
                "blocks",
                "competencies",
                "modalities",
                "activities",
                "criteria",
                "groups",
                "levels",
            ):
                parts.append(part)
            node = node.get(part) if isinstance(node, dict) else None
        parent_key = part
    return " › ".join(parts)


def _all_field_names() -> list[str]:
    names: set[str] = set()
    for obj in vars(model).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == model.__name__:
            names.update(obj.model_fields)
    return sorted(names)


def _message(err: Any) -> str:
    kind: str = err["type"]
    loc: Loc = err["loc"]
    field = str(loc[-1]) if loc else ""
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return f"le champ obligatoire « {field} » manque"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, _all_field_names(), n=1)
        hint = f" Vouliez-vous écrire « {close[0]} » ?" if close else ""
        return f"champ « {field} » inconnu.{hint} Les champs possibles sont décrits dans docs/authoring.md"
    if kind == "string_too_short":
        return "le texte est vide"
    if kind == "string_too_long":
        return f"le texte est trop long (au plus {ctx.get('max_length')} caractères)"
    if kind == "string_pattern_mismatch":
        if field == "id":
            return f"« {value} » : l'identifiant s'écrit en minuscules, chiffres et tirets (ex. « mon-titre-2024 »)"
        if field == "code" and "levels" in loc:
            return f"« {value} » : le code d'un niveau s'écrit en minuscules sans accent (ex. « acquis »)"
        return f"« {value} » : un code ne doit contenir ni espace ni barre oblique « / »"
    if kind == "enum":
        return f"valeur « {value} » inconnue ; valeurs possibles : {ctx.get('expected')}"
    if kind == "too_short":
        return f"la liste doit contenir au moins {counted(int(ctx.get('min_length') or 1), 'élément')}"
    if kind in ("string_type", "str_type"):
        return f"un texte est attendu ici, pas « {value} »"
    if kind == "list_type":
        return "une liste est attendue ici (des lignes commençant par « - »)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "un ensemble de champs « clé: valeur » est attendu ici"
    if kind == "bool_type" or kind == "bool_parsing":
        return f"« {value} » : true ou false attendu"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])
