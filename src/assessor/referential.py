"""The référentiel model: Referential -> Block -> Competency -> Criterion.

Two layers live here:

* the *authoring* models (``Referential`` and what it contains), which are exactly
  the YAML format a certifier writes; the JSON Schema in ``docs/`` is generated
  from them;
* the *resolved* view (``Criterion``), a flat list in which every criterion carries
  its stable id, its group heading, the competencies it assesses and their
  modality kinds. Everything downstream (retrieval, prompts, reviews) works on it.

Criterion ids are ``<referential>/<block>/<set>/<n>``: ``set`` is the key of the
criteria set (usually the competency code, or the code printed for a group of
competencies) and ``n`` the 1-based position inside that set. Adding a criterion
to another set, block or référentiel never changes an existing id.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assessor.errors import UnknownName
from assessor.vocabulary import (
    COMPETENCY_LEVEL_LABEL as COMPETENCY_LEVEL_LABEL,
    MODALITY_KIND_LABELS as MODALITY_KIND_LABELS,
    NON_VERDICT_LABELS as NON_VERDICT_LABELS,
    CriterionLevel as CriterionLevel,
    ModalityKind as ModalityKind,
    NonVerdict as NonVerdict,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Non-empty text; surrounding whitespace is stripped."""

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^/\s]+$"),
]
"""A short code used inside ids: no spaces and no slash."""

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScaleLevel(_Model):
    """One verdict of a référentiel's scale."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] = Field(
        description="Identifiant en minuscules, sans espace ni accent (ex. « acquis »)."
    )
    label: Text = Field(description="Libellé affiché au jury (ex. « Acquis »).")
    positive: bool = Field(
        description="Vrai si ce niveau atteste, même en partie, que le critère est satisfait : "
        "un tel verdict doit toujours s'appuyer sur au moins une citation vérifiée."
    )
    description: Text | None = Field(default=None, description="Définition du niveau, facultative.")


def default_scale_levels() -> list[ScaleLevel]:
    return [
        ScaleLevel(code="acquis", label="Acquis", positive=True),
        ScaleLevel(code="partiellement_acquis", label="Partiellement acquis", positive=True),
        ScaleLevel(code="non_acquis", label="Non acquis", positive=False),
    ]


class Scale(_Model):
    """The verdict scale, ordered from the best level to the worst.

    The two non-verdicts (*preuves insuffisantes*, *non évaluable sur pièces écrites*)
    always exist in addition to these levels.
    """

    levels: list[ScaleLevel] = Field(default_factory=default_scale_levels, min_length=2)

    @field_validator("levels")
    @classmethod
    def _distinct_codes(cls, levels: list[ScaleLevel]) -> list[ScaleLevel]:
        codes = [level.code for level in levels]
        duplicated = sorted({c for c in codes if codes.count(c) > 1})
        if duplicated:
            raise ValueError(f"niveau en double dans l'échelle : {', '.join(duplicated)}")
        reserved = sorted(set(codes) & {str(nv) for nv in NonVerdict})
        if reserved:
            raise ValueError(f"« {', '.join(reserved)} » est réservé aux résultats qui ne sont pas des verdicts")
        return levels

    def outcome_labels(self) -> dict[str, str]:
        """Every outcome code (levels first, then non-verdicts) with its label."""
        labels = {level.code: level.label for level in self.levels}
        labels.update({str(nv): label for nv, label in NON_VERDICT_LABELS.items()})
        return labels


class Provenance(_Model):
    """Where an imported element was read: a file and its page, or an element of the open-data XML."""

    file: Text = Field(description="Fichier lu (nom seul).")
    page: int | None = Field(default=None, ge=1, description="Page du PDF ou du texte, quand il y en a.")
    line: int | None = Field(default=None, ge=1, description="Ligne, pour une source en texte brut.")
    element: Text | None = Field(
        default=None,
        description="Élément XML lu, en chemin lisible "
        "(ex. « FICHE[RNCP37674]/BLOC_COMPETENCES[RNCP37674BC01]/LISTE_COMPETENCES »).",
    )

    def __str__(self) -> str:
        where = [self.file]
        if self.page is not None:
            where.append(f"page {self.page}")
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.element is not None:
            where.append(self.element)
        return ", ".join(where)


class OpenDataText(_Model):
    """A block's free texts as France Compétences publishes them, kept beside their split into items."""

    competencies: Text | None = Field(default=None, description="LISTE_COMPETENCES, tel que publié.")
    modalities: Text | None = Field(default=None, description="MODALITES_EVALUATION, tel que publié.")


class Source(_Model):
    """Where the référentiel text comes from."""

    file: Text = Field(description="Nom du fichier source (texte officiel) transcrit.")
    note: Text | None = Field(default=None, description="Remarque sur la transcription.")


class Activity(_Model):
    """An activity of the référentiel d'activités, to which competencies belong."""

    code: Code = Field(description="Code imprimé (ex. « A.1.1 ») ou code local stable.")
    title: Text = Field(description="Intitulé de l'activité.")
    tasks: list[Text] = Field(default_factory=list, description="Tâches listées sous l'activité.")


class Modality(_Model):
    """An evaluation modality (référentiel d'évaluation, first column)."""

    id: Code = Field(description="Identifiant local au bloc (ex. « M1 »), cité par les compétences.")
    kind: ModalityKind = Field(
        description="written (production écrite), oral, role_play (mise en situation, jeu de rôle) "
        "ou mixed (écrit puis oral, par exemple un dossier et sa soutenance)."
    )
    title: Text = Field(description="Intitulé court (ex. « Dossier de développement commercial »).")
    text: Text = Field(description="Texte de la modalité, tel qu'imprimé.")
    productions: list[Text] = Field(
        default_factory=list, description="Productions attendues du candidat, une par élément."
    )
    provenance: Provenance | None = Field(default=None, description="Où le texte a été lu (brouillon importé).")


class Competency(_Model):
    """A competency of the référentiel de compétences."""

    code: Code = Field(description="Code imprimé (ex. « C.1.1a ») ou code local stable s'il n'y en a pas.")
    code_printed: bool = Field(
        default=True, description="Faux quand le texte officiel n'imprime pas de code (code local)."
    )
    statement: Text = Field(description="Énoncé de la compétence, verbatim.")
    activity: Code | None = Field(default=None, description="Code de l'activité de rattachement.")
    modality: Code = Field(description="Identifiant de la modalité d'évaluation (dans le même bloc).")
    knowledge: list[Text] = Field(
        default_factory=list, description="Connaissances associées, quand le texte les liste."
    )
    provenance: Provenance | None = Field(default=None, description="Où l'énoncé a été lu (brouillon importé).")


class CriterionText(_Model):
    """One criterion as written in the YAML file (a plain string is accepted too)."""

    text: Text = Field(description="Critère d'évaluation, verbatim.")
    provenance: Provenance | None = Field(default=None, description="Où le critère a été lu (brouillon importé).")


class CriterionGroup(_Model):
    """Criteria printed under a sub-heading (« • Pertinence de l'analyse du marché : »)."""

    heading: Text | None = Field(
        default=None, description="Sous-titre qui regroupe les critères, sans puce ni deux-points."
    )
    criteria: list[CriterionText] = Field(min_length=1, description="Critères du groupe, dans l'ordre.")

    @field_validator("criteria", mode="before")
    @classmethod
    def _strings_are_criteria(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"text": item} if isinstance(item, str) else item for item in value]
        return value


class CriteriaSet(_Model):
    """Criteria printed for one competency or for a group of competencies."""

    key: Code = Field(
        description="Clé du jeu de critères, utilisée dans les identifiants : le code de la compétence, "
        "ou le code imprimé pour un groupe (ex. « C.1.3 » pour C.1.3a et C.1.3b)."
    )
    competencies: list[Code] = Field(min_length=1, description="Codes des compétences évaluées par ces critères.")
    relation: Text | None = Field(
        default=None,
        description="Mention imprimée qui rattache les critères (ex. « En relation avec les compétences "
        "C.1.3a & C.1.3b »), quand elle existe.",
    )
    groups: list[CriterionGroup] = Field(min_length=1, description="Groupes de critères, dans l'ordre.")
    level: CriterionLevel = Field(
        default=CriterionLevel.CRITERION,
        description="competency quand aucun critère n'est imprimé : l'énoncé de la compétence sert de critère, "
        "et la grille comme le rapport le signalent.",
    )


class Block(_Model):
    """A block of competencies (bloc de compétences), the unit a candidate validates."""

    code: Code = Field(description="Code court du bloc (ex. « B1 »), utilisé dans les identifiants.")
    title: Text = Field(description="Intitulé du bloc, tel qu'imprimé.")
    description: Text | None = Field(
        default=None,
        description="Énoncé général du bloc, quand le texte en imprime un en tête de la colonne des compétences.",
    )
    activities: list[Activity] = Field(default_factory=list)
    modalities: list[Modality] = Field(min_length=1)
    competencies: list[Competency] = Field(min_length=1)
    criteria: list[CriteriaSet] = Field(min_length=1)
    provenance: Provenance | None = Field(default=None, description="Où le bloc a été lu (brouillon importé).")
    open_data: OpenDataText | None = Field(
        default=None, description="Textes libres de la fiche RNCP d'où viennent compétences et modalités."
    )


class Referential(_Model):
    """A certification's référentiel: its blocks, competencies, modalities and criteria."""

    id: Slug = Field(description="Identifiant court en minuscules et tirets (ex. « ndrc-omnicanal »).")
    title: Text = Field(description="Intitulé de la certification.")
    version: Text = Field(description="Version ou date du référentiel.")
    rncp: Text | None = Field(default=None, description="Numéro de fiche RNCP, s'il est connu.")
    certifier: Text | None = Field(default=None, description="Certificateur, s'il est connu.")
    language: Text = Field(default="fr")
    draft: bool = Field(
        default=False,
        description="Vrai pour un brouillon importé (assessor referentials import) : à relire, puis passer à "
        "false (ou supprimer la ligne) une fois chaque élément vérifié.",
    )
    source: Source
    scale: Scale = Field(default_factory=Scale)
    blocks: list[Block] = Field(min_length=1)

    @model_validator(mode="after")
    def _semantic_checks(self, info: ValidationInfo) -> Referential:
        # The YAML loader validates cross-references itself to report every problem with its
        # line number; any other construction path gets them checked here.
        if not (info.context or {}).get("defer_semantics"):
            problems = [f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in semantic_errors(self)]
            if problems:
                raise ValueError("; ".join(problems))
        return self

    def block(self, code: str) -> Block:
        """The block with this code (case-insensitive); ``UnknownName`` with the known codes otherwise."""
        for block in self.blocks:
            if block.code.casefold() == code.casefold():
                return block
        known = ", ".join(b.code for b in self.blocks)
        raise UnknownName(f"bloc « {code} » inconnu dans {self.id} (blocs : {known})")

    @cached_property
    def criteria(self) -> list[Criterion]:
        """Every criterion of the référentiel, resolved, in document order."""
        return list(_resolve(self))

    def criteria_of(self, block_code: str) -> list[Criterion]:
        block = self.block(block_code)
        return [c for c in self.criteria if c.block == block.code]

    def counts(self) -> dict[str, int]:
        return {
            "blocks": len(self.blocks),
            "competencies": sum(len(b.competencies) for b in self.blocks),
            "criteria": len(self.criteria),
        }


class Criterion(_Model):
    """A resolved criterion: what a jury decides on, with everything needed to assess it."""

    id: str = Field(description="Identifiant stable : <référentiel>/<bloc>/<jeu>/<n>.")
    text: str
    referential: str
    block: str
    set_key: str
    number: int = Field(ge=1)
    group: str | None = Field(description="Sous-titre du groupe de critères, s'il y en a un.")
    competencies: list[str]
    competency_statements: list[str]
    modality_kinds: list[ModalityKind]
    modality_ids: list[str]
    productions: list[str]
    level: CriterionLevel = CriterionLevel.CRITERION
    provenance: Provenance | None = None

    @property
    def written_assessable(self) -> bool:
        """False when every modality behind this criterion is oral or a role play."""
        return any(k in (ModalityKind.WRITTEN, ModalityKind.MIXED) for k in self.modality_kinds)


def _resolve(ref: Referential) -> Iterator[Criterion]:
    for block in ref.blocks:
        competencies = {c.code: c for c in block.competencies}
        modalities = {m.id: m for m in block.modalities}
        for crit_set in block.criteria:
            comps = [competencies[code] for code in crit_set.competencies]
            mods = list({c.modality: modalities[c.modality] for c in comps}.values())
            number = 0
            for group in crit_set.groups:
                for item in group.criteria:
                    number += 1
                    yield Criterion(
                        id=f"{ref.id}/{block.code}/{crit_set.key}/{number}",
                        text=item.text,
                        referential=ref.id,
                        block=block.code,
                        set_key=crit_set.key,
                        number=number,
                        group=group.heading,
                        competencies=[c.code for c in comps],
                        competency_statements=[c.statement for c in comps],
                        modality_kinds=[m.kind for m in mods],
                        modality_ids=[m.id for m in mods],
                        productions=[p for m in mods for p in m.productions],
                        level=crit_set.level,
                        provenance=item.provenance,
                    )


Loc = tuple[str | int, ...]
"""A place in the YAML document, as pydantic reports it: ("blocks", 0, "competencies", 2)."""


def semantic_errors(ref: Referential) -> Iterator[tuple[Loc, str]]:
    """Cross-reference checks that a schema cannot express, as (place, message) pairs."""
    yield from _duplicates(("blocks",), [b.code for b in ref.blocks], "code de bloc")
    seen_comp: dict[str, str] = {}
    for bi, block in enumerate(ref.blocks):
        for ci, comp in enumerate(block.competencies):
            if comp.code in seen_comp:
                yield (
                    ("blocks", bi, "competencies", ci, "code"),
                    f"code de compétence « {comp.code} » déjà utilisé dans le bloc {seen_comp[comp.code]}",
                )
            seen_comp.setdefault(comp.code, block.code)
    for bi, block in enumerate(ref.blocks):
        here: Loc = ("blocks", bi)
        yield from _duplicates((*here, "modalities"), [m.id for m in block.modalities], "modalité")
        yield from _duplicates((*here, "activities"), [a.code for a in block.activities], "activité")
        yield from _duplicates((*here, "criteria"), [s.key for s in block.criteria], "jeu de critères")
        modality_ids = sorted(m.id for m in block.modalities)
        activity_codes = sorted(a.code for a in block.activities)
        comp_codes = sorted(c.code for c in block.competencies)
        for ci, comp in enumerate(block.competencies):
            if comp.modality not in modality_ids:
                yield (
                    (*here, "competencies", ci, "modality"),
                    f"la modalité « {comp.modality} » n'existe pas dans le bloc {block.code} "
                    f"(modalités définies : {', '.join(modality_ids)})",
                )
            if comp.activity is not None and comp.activity not in activity_codes:
                yield (
                    (*here, "competencies", ci, "activity"),
                    f"l'activité « {comp.activity} » n'existe pas dans le bloc {block.code} "
                    f"(activités définies : {', '.join(activity_codes) or 'aucune'})",
                )
        for si, crit_set in enumerate(block.criteria):
            for ki, code in enumerate(crit_set.competencies):
                if code not in comp_codes:
                    yield (
                        (*here, "criteria", si, "competencies", ki),
                        f"la compétence « {code} » n'existe pas dans le bloc {block.code} "
                        f"(compétences : {', '.join(comp_codes)})",
                    )


def semantic_warnings(ref: Referential) -> Iterator[tuple[Loc, str]]:
    """Suspicious but legal: a draft not yet reviewed, a competency that no criterion assesses."""
    if ref.draft:
        yield (
            ("draft",),
            "brouillon importé, pas encore relu : vérifiez chaque élément avec sa provenance "
            "(assessor referentials show --provenance), puis passez « draft » à false",
        )
    for bi, block in enumerate(ref.blocks):
        assessed = {code for crit_set in block.criteria for code in crit_set.competencies}
        for ci, comp in enumerate(block.competencies):
            if comp.code not in assessed:
                yield (
                    ("blocks", bi, "competencies", ci),
                    f"aucun critère d'évaluation ne se rattache à la compétence {comp.code}",
                )


def _duplicates(where: Loc, values: list[str], what: str) -> Iterator[tuple[Loc, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield (*where, index), f"{what} en double : « {value} »"
        seen.add(value)
