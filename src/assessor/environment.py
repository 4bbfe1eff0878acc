"""Settings from ``PREFIX_*`` environment variables and a ``.env`` file.

The rules are those of pydantic-settings, which Assessor used before (its import cost every
command about 45 ms): names are case-insensitive; ``__`` reaches into a nested model
(``ASSESSOR_LLM__MODEL``); a list, a mapping or a whole nested model is written in JSON
(``ASSESSOR_REFERENTIALS_DIRS='["/srv/referentiels"]'``); the environment wins over the ``.env``
file, and values given in code win over both (nested mappings are merged key by key). A variable
that names no setting is ignored at the top level; under a nested model it reaches the model,
which refuses an unknown name, so a misspelt ``ASSESSOR_LLM__MODLE`` is an error, not a silent default.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from assessor.errors import SettingsError

if TYPE_CHECKING:
    from pydantic import BaseModel

DELIMITER = "__"


def read_environment(
    model: type[BaseModel], *, prefix: str, dotenv: Path = Path(".env"), environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The values for ``model`` found in the environment and in ``dotenv`` (if it exists), as a nested dict."""
    variables = {**_dotenv(dotenv), **(os.environ if environ is None else environ)}
    found: dict[str, Any] = {}
    start = prefix.lower()
    for name, value in variables.items():
        key = name.lower()
        if not key.startswith(start) or len(key) == len(start):
            continue
        path = key[len(start) :].split(DELIMITER)
        if path[0] not in model.model_fields:
            continue
        _put(found, path, _decoded(name, value, _annotation(model, path)))
    return found


def process_environment(dotenv: Path = Path(".env")) -> dict[str, str]:
    """The process environment over the ``.env`` file (if any): provider keys (``OPENAI_API_KEY``…)
    may be kept in ``.env`` like Assessor's own settings."""
    return {**_dotenv(dotenv), **os.environ}


def variable(name: str, *, dotenv: Path = Path(".env"), environ: Mapping[str, str] | None = None) -> str | None:
    """One variable, by the same rules (case-insensitive, the environment before ``.env``), without
    the settings models: for a check made before the pipeline is imported."""
    wanted = name.lower()
    for source in (os.environ if environ is None else environ, None):
        values = source if source is not None else _dotenv(dotenv)
        for key, value in values.items():
            if key.lower() == wanted:
                return value
    return None


def json_list(name: str, value: str | None) -> list[Any]:
    """A variable holding a JSON list (``ASSESSOR_REFERENTIALS_DIRS``); empty when unset."""
    if value is None:
        return []
    decoded = _json(name, value)
    if not isinstance(decoded, list) or not all(isinstance(item, str) for item in decoded):
        raise SettingsError(f'{name} : une liste JSON est attendue, par exemple ["/srv/referentiels"].')
    return decoded


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, mappings merged key by key (a model or any other value replaces)."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # only when there is a file to read

    try:
        return {k: v for k, v in dotenv_values(path, encoding="utf-8").items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} : fichier de réglages illisible ({exc}).") from exc


def _annotation(model: type[BaseModel], path: list[str]) -> Any:
    """The type of the setting at ``path`` (None when a name is unknown)."""
    annotation: Any = model
    for part in path:
        nested = _model_in(annotation)
        if nested is None or part not in nested.model_fields:
            return None
        annotation = nested.model_fields[part].annotation
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    for candidate in _alternatives(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for a in get_args(annotation) if a is not type(None))
    return (annotation,)


def _is_complex(annotation: Any) -> bool:
    """A list, a mapping or a model: written in JSON in a variable."""
    from pydantic import BaseModel

    for candidate in _alternatives(annotation):
        origin = get_origin(candidate) or candidate
        if isinstance(origin, type) and (
            issubclass(origin, (list, tuple, set, frozenset, dict)) or issubclass(origin, BaseModel)
        ):
            return True
    return False


def _decoded(name: str, value: str, annotation: Any) -> Any:
    if annotation is None or not _is_complex(annotation):
        return value
    return _json(name, value)


def _json(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{name} : valeur illisible ({exc.msg}, caractère {exc.pos + 1}) ; une liste ou un objet s'écrit en JSON, "
            'par exemple ["/srv/referentiels"].'
        ) from exc


def _put(found: dict[str, Any], path: list[str], value: Any) -> None:
    node = found
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    last = path[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        node[last] = merged(value, node[last])  # ASSESSOR_LLM='{…}' beside ASSESSOR_LLM__MODEL: the finer one wins
    else:
        node[last] = value


_MESSAGES = {
    "int_parsing": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "float_parsing": "un nombre est attendu",
    "bool_parsing": "true ou false est attendu",
    "greater_than_equal": "au moins {ge}",
    "greater_than": "plus de {gt}",
    "less_than_equal": "au plus {le}",
    "less_than": "moins de {lt}",
    "enum": "valeurs possibles : {expected}",
    "literal_error": "valeurs possibles : {expected}",
    "extra_forbidden": "ce réglage n'existe pas (faute de frappe ?)",
    "string_too_short": "au moins {min_length} caractères",
    "list_type": "une liste JSON est attendue",
    "path_type": "un chemin est attendu",
}


def settings_problem(exc: Any, *, prefix: str) -> str:
    """A French sentence naming each setting that failed validation as its variable (``exc`` is a
    pydantic ``ValidationError`` of the settings), with what is expected."""
    problems = []
    for error in exc.errors()[:5]:
        variable = prefix + DELIMITER.join(str(part) for part in error["loc"]).upper()
        template = _MESSAGES.get(error["type"])
        said = template.format(**(error.get("ctx") or {})) if template else error["msg"]
        given = error.get("input")
        value = f" = {given!r}" if isinstance(given, str | int | float) else ""
        problems.append(f"{variable}{value} : {said}")
    return "réglage invalide : " + " ; ".join(problems) + " (voir l'environnement ou le fichier .env)."


__all__ = [
    "DELIMITER",
    "json_list",
    "merged",
    "process_environment",
    "read_environment",
    "settings_problem",
    "variable",
]
