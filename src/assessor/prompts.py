"""The prompt layer: French templates in ``prompts/``, rendered in a sandbox, versioned by hash.

Every message sent to a language model is rendered from a ``*.j2`` file of the prompts
folder (the repository's ``prompts/``, or the copy shipped inside the wheel) by a sandboxed
Jinja environment with strict undefined variables: a template cannot reach Python
internals, and a missing variable is an error, never an empty string.

* ``system.j2`` + ``mode_<mode>.j2`` make the system message, ``criterion.j2`` the user
  message for one criterion, ``retry.j2`` the message sent back after an unusable answer, and
  ``answer_schema.j2`` the JSON Schema of the expected answer (shown in the system message,
  and usable as the provider's structured-output schema through ``PromptLibrary.answer_schema``).
* ``EXPECTED_VARIABLES`` is the contract between the code and the templates: the exact set
  of variables the code passes to each template. ``render`` refuses, before rendering, a call
  whose variables differ from the ones the template uses, and the library refuses at load time
  a template whose variables differ from the contract.
* ``PromptLibrary.version`` (the first 12 hex digits of a sha256 over every template, sorted by
  name) is the prompt version recorded in every result; ``hashes`` gives each template's own.
* The dossier's text is untrusted: passages (and their file names) sit between ``DATA_OPEN``
  and ``DATA_CLOSE``, and any run of three or more ``<`` or ``>`` in them (and in every other
  interpolated text) is neutralised, so no passage can close the data block or open a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assessor.chunking import Chunk
from assessor.errors import AssessorError
from assessor.referential import (
    MODALITY_KIND_LABELS,
    NON_VERDICT_LABELS,
    Criterion,
    ModalityKind,
    ScaleLevel,
)
from assessor.results import Mode

if TYPE_CHECKING:
    from jinja2 import Template

TEMPLATE_SUFFIX = ".j2"

DATA_OPEN = "<<<DOSSIER"
"""Opens the block of untrusted dossier text in the user message."""
DATA_CLOSE = "DOSSIER>>>"
"""Closes the block of untrusted dossier text in the user message."""

EXPECTED_VARIABLES: dict[str, set[str]] = {
    "system": {"answer_schema", "data_open", "data_close"},
    "answer_schema": {"outcome_codes"},
    "mode_jury": set(),
    "mode_trainer": set(),
    "mode_candidate": {"verdict_labels"},
    "criterion": {
        "referential_title",
        "block",
        "criterion_id",
        "group",
        "criterion_text",
        "competencies",
        "modalities",
        "written_assessable",
        "oral_part",
        "productions",
        "outcomes",
        "passages",
        "data_open",
        "data_close",
    },
    "retry": {"errors"},
}
"""What the code passes to each template (by name, without ``.j2``): the variables contract."""

Messages = list[tuple[str, str]]
"""Chat messages as (role, content) pairs: ("system", ...), ("user", ...)."""

_ANGLE_RUNS = re.compile(r"<{3,}|>{3,}")
_NEUTRAL = {"<": "‹", ">": "›"}


class PromptError(AssessorError):
    """A prompt template that cannot be loaded or rendered as the code expects."""

    code = "gabarit-invalide"


class PromptVariablesError(PromptError):
    """The variables given to a template are not the ones it uses (raised before rendering)."""

    def __init__(self, name: str, missing: set[str], unexpected: set[str]) -> None:
        self.name = name
        self.missing = missing
        self.unexpected = unexpected
        parts = []
        if missing:
            parts.append(f"missing variables: {', '.join(sorted(missing))}")
        if unexpected:
            parts.append(f"unexpected variables: {', '.join(sorted(unexpected))}")
        super().__init__(f"prompt template « {name}{TEMPLATE_SUFFIX} »: {'; '.join(parts)}")


@dataclass(frozen=True)
class PassageView:
    """A passage as the criterion template sees it; ``file`` and ``text`` are neutralised."""

    id: str
    file: str
    locator: str
    ocr: bool
    text: str


@dataclass(frozen=True)
class OutcomeView:
    """An allowed outcome: a level of the référentiel's scale or a non-verdict."""

    code: str
    label: str
    positive: bool
    description: str | None


@dataclass(frozen=True)
class CompetencyView:
    code: str
    statement: str


def shipped_prompts_dir() -> Path:
    """The prompts shipped with Assessor: the repository folder, or the copy inside a wheel."""
    package = Path(__file__).resolve().parent
    checkout = package.parent.parent / "prompts"
    return checkout if checkout.is_dir() else package / "_data" / "prompts"


def neutralise(text: str) -> str:
    """Untrusted text that cannot contain a data marker: runs of 3+ ``<`` or ``>`` become ``‹``/``›``."""
    return _ANGLE_RUNS.sub(lambda m: "".join(_NEUTRAL[c] for c in m.group()), text)


def _short_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:12]


class PromptLibrary:
    """The prompt templates of one folder, loaded once: rendering never re-reads the files."""

    def __init__(self, folder: Path | None = None) -> None:
        from jinja2 import DictLoader, StrictUndefined, meta  # only where prompts are rendered
        from jinja2.sandbox import SandboxedEnvironment

        self.folder = folder if folder is not None else shipped_prompts_dir()
        files = sorted(self.folder.glob(f"*{TEMPLATE_SUFFIX}")) if self.folder.is_dir() else []
        if not files:
            raise PromptError(f"aucun gabarit de consignes (*{TEMPLATE_SUFFIX}) dans {self.folder}")
        # Line endings are normalised so that a Windows checkout has the same version.
        self.sources: dict[str, str] = {
            path.name.removesuffix(TEMPLATE_SUFFIX): path.read_text(encoding="utf-8").replace("\r\n", "\n")
            for path in files
        }
        self.env = SandboxedEnvironment(
            loader=DictLoader({name + TEMPLATE_SUFFIX: text for name, text in self.sources.items()}),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        encoded = {name: text.encode("utf-8") for name, text in self.sources.items()}
        self.hashes: dict[str, str] = {name: _short_hash(data) for name, data in encoded.items()}
        """Each template's own version: the first 12 hex digits of the sha256 of its content."""
        self.version: str = _short_hash(
            *(part for name in sorted(encoded) for part in (name.encode(), b"\0", encoded[name], b"\0"))
        )
        """The version of the whole set, recorded in every result."""
        self._templates: dict[str, Template] = {}
        self._variables: dict[str, set[str]] = {}
        for name, text in self.sources.items():
            self._variables[name] = set(meta.find_undeclared_variables(self.env.parse(text))) - set(self.env.globals)
        problems = self.check()
        if problems:
            raise PromptError(
                f"les gabarits de consignes de {self.folder} ne correspondent pas au code :\n" + "\n".join(problems)
            )

    @property
    def names(self) -> list[str]:
        return sorted(self.sources)

    def variables(self, name: str) -> set[str]:
        """The variables a template uses (parsed from its source, Jinja globals excluded)."""
        return set(self._variables[self._known(name)])

    def check(self) -> list[str]:
        """Every difference between the templates and ``EXPECTED_VARIABLES``, as readable lines."""
        problems: list[str] = []
        for name, expected in EXPECTED_VARIABLES.items():
            if name not in self.sources:
                problems.append(f"- {name}{TEMPLATE_SUFFIX} : gabarit absent")
                continue
            used = self._variables[name]
            if used - expected:
                problems.append(
                    f"- {name}{TEMPLATE_SUFFIX} : utilise des variables que le code ne fournit pas : "
                    f"{', '.join(sorted(used - expected))}"
                )
            if expected - used:
                problems.append(
                    f"- {name}{TEMPLATE_SUFFIX} : n'utilise pas des variables que le code fournit : "
                    f"{', '.join(sorted(expected - used))}"
                )
        return problems

    def render(self, name: str, **variables: Any) -> str:
        """Render a template with exactly the variables it uses; ``PromptVariablesError`` otherwise."""
        name = self._known(name)
        used = self._variables[name]
        given = set(variables)
        if used != given:
            raise PromptVariablesError(name, missing=used - given, unexpected=given - used)
        if name not in self._templates:
            self._templates[name] = self.env.get_template(name + TEMPLATE_SUFFIX)
        return self._templates[name].render(**variables)

    def answer_schema(self, scale_levels: Sequence[ScaleLevel]) -> dict[str, Any]:
        """The JSON Schema of a criterion answer, its outcome enum taken from the scale."""
        schema: dict[str, Any] = json.loads(self._answer_schema_text(scale_levels))
        return schema

    def criterion_messages(
        self,
        criterion: Criterion,
        passages: Sequence[Chunk],
        scale_levels: Sequence[ScaleLevel],
        mode: Mode | str,
        referential_title: str,
    ) -> Messages:
        """The system and user messages that ask for one criterion's pre-assessment."""
        mode = Mode(mode)
        system = self.render(
            "system",
            answer_schema=self._compact_schema_text(scale_levels),
            data_open=DATA_OPEN,
            data_close=DATA_CLOSE,
        )
        mode_variables: dict[str, Any] = {}
        if mode is Mode.CANDIDATE:
            mode_variables["verdict_labels"] = [level.label for level in scale_levels]
        instructions = self.render(f"mode_{mode.value}", **mode_variables)
        user = self.render(
            "criterion",
            referential_title=neutralise(referential_title),
            block=neutralise(criterion.block),
            criterion_id=neutralise(criterion.id),
            group=neutralise(criterion.group) if criterion.group else None,
            criterion_text=neutralise(criterion.text),
            competencies=[
                CompetencyView(neutralise(code), neutralise(statement))
                for code, statement in zip(criterion.competencies, criterion.competency_statements, strict=True)
            ],
            modalities=[MODALITY_KIND_LABELS[kind] for kind in dict.fromkeys(criterion.modality_kinds)],
            written_assessable=criterion.written_assessable,
            oral_part=any(kind is not ModalityKind.WRITTEN for kind in criterion.modality_kinds),
            productions=[neutralise(production) for production in criterion.productions],
            outcomes=_outcomes(scale_levels),
            passages=[_passage(chunk) for chunk in passages],
            data_open=DATA_OPEN,
            data_close=DATA_CLOSE,
        )
        return [("system", f"{system.strip()}\n\n{instructions.strip()}\n"), ("user", user.strip() + "\n")]

    def retry_message(self, errors: Iterable[str]) -> str:
        """The user message sent back after an unusable answer, listing what was wrong with it."""
        listed = [neutralise(" ".join(error.split())) for error in errors if error.strip()]
        if not listed:
            raise ValueError("a retry message needs at least one error")
        return self.render("retry", errors=listed).strip() + "\n"

    def _compact_schema_text(self, scale_levels: Sequence[ScaleLevel]) -> str:
        """The schema as printed in the system prompt: without descriptions (the instructions
        explain every field), on one line. It saves about 350 tokens in every call."""

        def strip(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: strip(v) for k, v in node.items() if k != "description"}
            if isinstance(node, list):
                return [strip(v) for v in node]
            return node

        return json.dumps(strip(self.answer_schema(scale_levels)), ensure_ascii=False, separators=(",", ":"))

    def _answer_schema_text(self, scale_levels: Sequence[ScaleLevel]) -> str:
        return self.render("answer_schema", outcome_codes=[o.code for o in _outcomes(scale_levels)]).strip()

    def _known(self, name: str) -> str:
        name = name.removesuffix(TEMPLATE_SUFFIX)
        if name not in self.sources:
            raise PromptError(
                f"pas de gabarit « {name}{TEMPLATE_SUFFIX} » dans {self.folder} (gabarits : {', '.join(self.names)})"
            )
        return name


def _outcomes(scale_levels: Sequence[ScaleLevel]) -> list[OutcomeView]:
    if not scale_levels:
        raise ValueError("the verdict scale has no levels")
    levels = [OutcomeView(lv.code, lv.label, lv.positive, lv.description) for lv in scale_levels]
    non_verdicts = [OutcomeView(str(code), label, False, None) for code, label in NON_VERDICT_LABELS.items()]
    return levels + non_verdicts


def _passage(chunk: Chunk) -> PassageView:
    return PassageView(
        id=chunk.id,
        file=neutralise(chunk.file),
        locator=neutralise(chunk.locator),
        ocr=chunk.ocr,
        text=neutralise(chunk.text.strip()),
    )


@cache
def default_library() -> PromptLibrary:
    """The shipped prompts, loaded once per process."""
    return PromptLibrary()


def criterion_messages(
    criterion: Criterion,
    passages: Sequence[Chunk],
    scale_levels: Sequence[ScaleLevel],
    mode: Mode | str,
    referential_title: str,
    *,
    library: PromptLibrary | None = None,
) -> Messages:
    """[("system", ...), ("user", ...)] for one criterion, from the shipped prompts by default."""
    return (library or default_library()).criterion_messages(criterion, passages, scale_levels, mode, referential_title)


def retry_message(errors: Iterable[str], *, library: PromptLibrary | None = None) -> str:
    """The message sent back after an unusable answer, from the shipped prompts by default."""
    return (library or default_library()).retry_message(errors)
