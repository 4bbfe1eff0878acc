"""A reading becomes a draft référentiel: codes, modalities and criteria sets in the project's format,
``draft: true``, every element with its provenance; written as YAML, atomically and only if valid."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from assessor.atomic import write_atomic
from assessor.importer.reading import ImportFailure, ReadBlock, ReadCompetency, Reading, ReadModality, Unread
from assessor.library import Severity, check_file
from assessor.referential import (
    Block,
    Competency,
    CriteriaSet,
    CriterionGroup,
    CriterionLevel,
    CriterionText,
    Modality,
    ModalityKind,
    Referential,
    Source,
)
from assessor.wording import counted

_CODE_OK = re.compile(r"^[^/\s]{1,40}$")
_WRITTEN = re.compile(r"écrit|dossier|rapport|mémoire|note\b|livrable|production|questionnaire", re.I)
_ORAL = re.compile(r"oral|soutenance|entretien|présentation|exposé", re.I)
_PRACTICAL = re.compile(r"mise en situation|jeux? de rôle|simulation|pratique|geste", re.I)


def slug(text: str, *, limit: int = 60) -> str:
    """« RNCP37674 Développeur web » → ``rncp37674-developpeur-web``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return words[:limit].rstrip("-") or "referentiel-importe"


def modality_kind(text: str) -> ModalityKind:
    """A guess from the modality's words, for the reviewer to confirm: written, oral, practical or mixed."""
    written, oral, practical = (bool(p.search(text)) for p in (_WRITTEN, _ORAL, _PRACTICAL))
    if written:
        return ModalityKind.MIXED if oral or practical else ModalityKind.WRITTEN
    if practical:
        return ModalityKind.ROLE_PLAY
    return ModalityKind.ORAL if oral else ModalityKind.MIXED


def _title(text: str, limit: int = 90) -> str:
    first = text.split("\n", 1)[0].strip()
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + " …"


def build(reading: Reading, unread: list[Unread], *, ref_id: str | None = None, files: list[str]) -> Referential:
    """The draft référentiel of a (merged) reading. ``unread`` receives what had to be left out."""
    codes = _competency_codes(reading)
    blocks: list[Block] = []
    for index, read_block in enumerate(reading.blocks, start=1):
        if not read_block.competencies:
            unread.append(Unread(read_block.provenance, f"bloc « {read_block.title} » : aucune compétence lue"))
            continue
        blocks.append(_block(read_block, index, codes, unread))
    if not blocks:
        raise _nothing_read(reading)
    with_criteria = sum(1 for c in reading.competencies if c.criteria)
    note = (
        f"Brouillon importé le {date.today():%d/%m/%Y} par « assessor referentials import » depuis "
        f"{', '.join(files)}. {counted(with_criteria, 'compétence')} sur {len(reading.competencies)} "
        f"{'a' if with_criteria < 2 else 'ont'} des critères "
        "imprimés ; les autres sont évaluées au niveau de la compétence. À relire avant usage : chaque élément "
        "indique sa provenance."
    )
    number = reading.rncp or ""
    return Referential(
        id=ref_id or slug(f"{number} {reading.title or files[0]}"),
        title=reading.title or Path(files[0]).stem,
        version=reading.version or f"importé le {date.today():%d/%m/%Y}",
        rncp=reading.rncp,
        certifier=reading.certifier,
        draft=True,
        source=Source(file=" + ".join(files), note=note),
        blocks=blocks,
    )


def _nothing_read(reading: Reading) -> ImportFailure:
    return ImportFailure(
        f"{reading.file} : aucun bloc de compétences n'a pu être lu ; rien n'a été écrit. "
        "Ce document est-il bien un référentiel (RC, REAC, grille d'évaluation) ou un export des fiches RNCP ?"
    )


def _competency_codes(reading: Reading) -> dict[int, tuple[str, bool]]:
    """Each competency's code (by ``id``): the printed one when every printed code is usable and unique,
    otherwise a local code CP1, CP2… in document order."""
    competencies = reading.competencies
    printed = [c.code for c in competencies]
    usable = all(code and _CODE_OK.match(code) for code in printed) and len(set(printed)) == len(printed)
    if usable:
        return {id(c): (c.code or "", True) for c in competencies}
    taken = {code for code in printed if code}
    result: dict[int, tuple[str, bool]] = {}
    number = 0
    for competency in competencies:
        if competency.code and _CODE_OK.match(competency.code) and printed.count(competency.code) == 1:
            result[id(competency)] = (competency.code, True)
            continue
        number += 1
        while f"CP{number}" in taken:
            number += 1
        result[id(competency)] = (f"CP{number}", False)
    return result


def _block(read: ReadBlock, index: int, codes: dict[int, tuple[str, bool]], unread: list[Unread]) -> Block:
    modalities = _modalities(read, unread)
    pairs = list(zip(modalities, read.modalities, strict=False))
    by_code = {code: m.id for m, read_mod in pairs for code in read_mod.competency_codes}
    default = next((m.id for m, read_mod in pairs if not read_mod.competency_codes), modalities[0].id)
    competencies: list[Competency] = []
    criteria: list[CriteriaSet] = []
    # A competency whose criteria another one holds (a list printed for both) gets no set of its own.
    covered = {id(other) for comp in read.competencies if comp.criteria for other in comp.shared_with}
    keys = {c.code for c in read.competencies}
    for comp in read.competencies:
        code, printed = codes[id(comp)]
        competencies.append(
            Competency(
                code=code,
                code_printed=printed,
                statement=comp.statement,
                modality=by_code.get(comp.code or "", default),
                provenance=comp.provenance,
            )
        )
        if id(comp) in covered and not comp.criteria:
            continue
        shared = [codes[id(other)][0] for other in comp.shared_with] if comp.criteria else []
        key = comp.criteria_key if shared and comp.criteria_key and comp.criteria_key not in keys else code
        criteria.append(_criteria_set(key, [code, *shared], comp))
    code = read.code if read.code and _CODE_OK.match(read.code) else f"B{index}"
    return Block(
        code=code,
        title=read.title,
        description=read.description,
        modalities=modalities,
        competencies=competencies,
        criteria=criteria,
        provenance=read.provenance,
        open_data=read.open_data,
    )


def _modalities(read: ReadBlock, unread: list[Unread]) -> list[Modality]:
    if not read.modalities:
        unread.append(
            Unread(read.provenance, f"bloc « {read.title} » : aucune modalité d'évaluation lue (modalité à compléter)")
        )
        placeholder = ReadModality(
            text="Modalité d'évaluation non lue dans la source : à compléter.", provenance=read.provenance
        )
        return [_modality("M1", placeholder)]
    return [_modality(f"M{i}", m) for i, m in enumerate(read.modalities, start=1)]


def _modality(modality_id: str, read: ReadModality) -> Modality:
    return Modality(
        id=modality_id,
        kind=modality_kind(read.text),
        title=_title(read.text),
        text=read.text,
        provenance=read.provenance,
    )


def _criteria_set(key: str, assessed: list[str], comp: ReadCompetency) -> CriteriaSet:
    if not comp.criteria:  # nothing printed: the competency itself is what the jury decides on
        return CriteriaSet(
            key=key,
            competencies=assessed,
            level=CriterionLevel.COMPETENCY,
            groups=[CriterionGroup(criteria=[CriterionText(text=comp.statement, provenance=comp.provenance)])],
        )
    groups: list[CriterionGroup] = []
    for criterion in comp.criteria:
        text = CriterionText(text=criterion.text, provenance=criterion.provenance)
        if groups and groups[-1].heading == criterion.heading:
            groups[-1].criteria.append(text)
        else:
            groups.append(CriterionGroup(heading=criterion.heading, criteria=[text]))
    return CriteriaSet(key=key, competencies=assessed, groups=groups)


def render_yaml(ref: Referential, unread: list[Unread]) -> str:
    """The draft as YAML, with a French header on what to review and what could not be read."""
    data: dict[str, Any] = ref.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["draft"] = True
    header = [
        f"# Brouillon de référentiel importé ({ref.source.file}).",
        "# À relire : chaque bloc, compétence, modalité et critère indique sa provenance (fichier, page",
        "# ou élément XML). Vérifiez en particulier le type de chaque modalité (kind), deviné d'après son texte.",
        "# Une fois relu, passez « draft » à false. Contrôle : assessor referentials validate CE_FICHIER.yaml",
    ]
    if unread:
        header.append(f"# Non lu ou non repris ({len(unread)}) :")
        header += [f"#   - {u!s}" for u in unread]
    else:
        header.append("# Tout ce qui a été vu dans les sources a été repris.")
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False)
    return "\n".join(header) + "\n" + body


class _Dumper(yaml.SafeDumper):
    """Multi-line texts (a modality's lines) as literal blocks, the way a person would write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, check that it loads, then replace ``path``:
    a failure never leaves a partial draft."""

    def loads(written: Path) -> None:
        errors = [p for p in check_file(written)[1] if p.severity is Severity.ERROR]
        if errors:
            raise ImportFailure(
                f"le brouillon produit n'est pas valide ({errors[0].place} : {errors[0].message}) ; rien n'a été écrit."
            )

    write_atomic(path, text, check=loads)
