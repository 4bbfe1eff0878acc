"""The France Compétences open-data export of RNCP fiches (XML format V4.1), read as a stream.

The full export weighs hundreds of megabytes: it is never loaded whole. ``iterparse`` hands
each ``FICHE`` over when it ends; it is read, then cleared, so memory holds one fiche at a
time. A zip holding the XML is read from inside the archive, without extracting it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, iterparse

from assessor.importer.reading import ImportFailure, ReadBlock, ReadCompetency, Reading, ReadModality, SourceKind
from assessor.importer.split import Item, clean, lead_in, split_items
from assessor.referential import OpenDataText, Provenance

SUPPORTED_VERSION = "4.1"
RNCP_NUMBER = re.compile(r"^(RNCP|RS)\d{3,6}$")


@contextmanager
def _open_xml(path: Path) -> Iterator[IO[bytes]]:
    """The XML stream of a file, or of the one XML file inside a zip."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".xml")]
            if len(members) != 1:
                raise ImportFailure(
                    f"{path.name} : l'archive contient {len(members)} fichiers XML ; il en faut un seul, "
                    "l'export des fiches RNCP (décompressez-la et donnez le fichier XML)."
                )
            with archive.open(members[0]) as stream:
                yield stream
        return
    with path.open("rb") as stream:
        yield stream


def iter_fiches(path: Path, *, only: str | None = None) -> Iterator[Reading]:
    """Every fiche of an export (or only the one numbered ``only``), in file order, one at a time;
    ``ImportFailure`` when the file is not such an export."""
    with _open_xml(path) as stream:
        events = iterparse(stream, events=("start", "end"))
        version: str | None = None
        root: Element | None = None
        depth = 0
        try:
            for event, element in events:
                depth += 1 if event == "start" else -1
                if root is None:
                    root = element
                    if root.tag != "FICHES":
                        raise ImportFailure(
                            f"{path.name} : ce XML n'est pas un export des fiches RNCP de France Compétences "
                            f"(élément racine <{root.tag}>, attendu <FICHES>)."
                        )
                    continue
                if event != "end":
                    continue
                if element.tag == "VERSION_FLUX":
                    version = (element.text or "").strip()
                    if version != SUPPORTED_VERSION:
                        raise ImportFailure(
                            f"{path.name} : export au format V{version or '?'} ; Assessor lit le format "
                            f"V{SUPPORTED_VERSION}. Téléchargez l'export courant sur data.gouv.fr "
                            "(jeu « Répertoire national des certifications professionnelles »)."
                        )
                elif element.tag == "FICHE" and depth == 1:
                    if version is None:
                        raise ImportFailure(
                            f"{path.name} : la version du format (VERSION_FLUX) manque avant la première fiche ; "
                            f"Assessor lit le format V{SUPPORTED_VERSION} des exports de France Compétences."
                        )
                    if only is None or (element.findtext("NUMERO_FICHE") or "").strip().upper() == only:
                        yield _fiche(path.name, element)
                    # The fiche is read: drop it. Only it: the parser may already hold the next one.
                    element.clear()
                    root.remove(element)
        except ParseError as exc:
            line, column = exc.position
            raise ImportFailure(
                f"{path.name} : XML illisible ligne {line}, colonne {column} (fichier tronqué ou abîmé ?). "
                "Téléchargez l'export à nouveau."
            ) from exc
    if root is None:
        raise ImportFailure(f"{path.name} : le fichier est vide.")


def find_fiche(path: Path, rncp: str) -> Reading:
    """The fiche with this number; stops reading as soon as it is found."""
    wanted = rncp.strip().upper()
    if not RNCP_NUMBER.match(wanted):
        raise ImportFailure(
            f"« {rncp} » n'est pas un numéro de fiche (attendu : RNCP suivi de chiffres, ex. RNCP37674)."
        )
    for fiche in iter_fiches(path, only=wanted):
        return fiche
    raise ImportFailure(
        f"{path.name} : la fiche {wanted} n'y figure pas. Vérifiez le numéro sur "
        "francecompetences.fr, ou prenez un export plus récent."
    )


def _text(element: Element, tag: str) -> str | None:
    value = element.findtext(tag)
    return clean(value) if value and value.strip() else None


def _fiche(file: str, fiche: Element) -> Reading:
    number = (_text(fiche, "NUMERO_FICHE") or "").upper()
    certifiers = [clean(c.text or "") for c in fiche.iterfind("CERTIFICATEURS/CERTIFICATEUR/NOM_CERTIFICATEUR")]
    state = _text(fiche, "ETAT_FICHE")
    published = _text(fiche, "DATE_DE_PUBLICATION")
    version = f"fiche {number}, données ouvertes France Compétences (format V{SUPPORTED_VERSION})"
    version += f", publiée le {published}" if published else ""
    version += f", état : {state}" if state else ""
    reading = Reading(
        file=file,
        kind=SourceKind.OPEN_DATA,
        title=_text(fiche, "INTITULE"),
        rncp=number,
        certifier=", ".join(c for c in certifiers if c) or None,
        version=version,
    )
    for bloc in fiche.iterfind("BLOCS_COMPETENCES/BLOC_COMPETENCES"):
        reading.blocks.append(_block(file, number, bloc))
    return reading


def _block(file: str, number: str, bloc: Element) -> ReadBlock:
    code = _text(bloc, "CODE")
    where = f"FICHE[{number}]/BLOC_COMPETENCES[{code or '?'}]"
    competencies_text = bloc.findtext("LISTE_COMPETENCES") or ""
    modalities_text = bloc.findtext("MODALITES_EVALUATION") or ""
    description, items = lead_in(split_items(competencies_text))
    block = ReadBlock(
        title=_text(bloc, "LIBELLE") or code or "?",
        code=code,
        description=description,
        provenance=Provenance(file=file, element=where),
        # As published, spaces included: they are the certifier's line breaks, flattened by the export.
        open_data=OpenDataText(
            competencies=competencies_text.strip() or None, modalities=modalities_text.strip() or None
        ),
    )
    comp_where = Provenance(file=file, element=f"{where}/LISTE_COMPETENCES")
    for item in items:
        block.competencies.append(
            ReadCompetency(
                statement=item.text, code=item.codes[0] if len(item.codes) == 1 else None, provenance=comp_where
            )
        )
    mod_where = Provenance(file=file, element=f"{where}/MODALITES_EVALUATION")
    block.modalities = _modalities(split_items(modalities_text), mod_where, block.competencies)
    return block


def _modalities(items: list[Item], where: Provenance, competencies: list[ReadCompetency]) -> list[ReadModality]:
    """One modality per item that names competencies by code (« A2C2. et A2C3. Analyse… »), with the
    unnamed items that follow it; otherwise the whole text is one modality for every competency."""
    codes = {c.code for c in competencies if c.code}
    named = [i for i in items if i.codes and set(i.codes) <= codes]
    if not items:
        return []
    if not named or len(named) < len(items) / 2:
        return [ReadModality(text="\n".join(clean(i.original) for i in items), provenance=where)]
    modalities: list[ReadModality] = []
    preamble: list[str] = []
    for item in items:
        if item.codes and set(item.codes) <= codes:
            modalities.append(ReadModality(text=item.text, provenance=where, competency_codes=list(item.codes)))
        elif modalities:
            modalities[-1].text += "\n" + clean(item.original)
        else:
            preamble.append(item.text)
    if preamble:  # « NB. Les compétences … » before the first named item: said for all of them
        for modality in modalities:
            modality.text = "\n".join(preamble) + "\n" + modality.text
    return modalities
