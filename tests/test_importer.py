"""assessor referentials import: open data, référentiel layouts, merging, drafts, bad input."""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from assessor.cli import app
from assessor.importer import ImportFailure, draft_of, import_sources, iter_fiches
from assessor.importer.pdf_layouts import read_rc
from assessor.importer.split import lead_in, split_items
from assessor.ingest.layout import Block, Line, PageLayout, Run
from assessor.ingest.ocr import tesseract_status
from assessor.library import check_file
from assessor.referential import CriterionLevel, Referential

ROOT = Path(__file__).resolve().parent.parent
SHARED = next((p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()), ROOT.parent / "shared")
REAL = SHARED / "realdata" / "referentiels"
EXPORT = REAL / "export_fiches_RNCP_fixture.xml"
needs_realdata = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent: real référentiels not here")
runner = CliRunner()

FICHE = """
  <FICHE>
    <ID_FICHE>1</ID_FICHE>
    <NUMERO_FICHE>{number}</NUMERO_FICHE>
    <NOUVELLES_CERTIFICATIONS><NOUVELLE_CERTIFICATION><ID_FICHE_NOUVELLE_CERTIFICATION>RNCP99999
    </ID_FICHE_NOUVELLE_CERTIFICATION></NOUVELLE_CERTIFICATION></NOUVELLES_CERTIFICATIONS>
    <INTITULE>Technicien d'essai</INTITULE>
    <ETAT_FICHE>Publiée</ETAT_FICHE>
    <CERTIFICATEURS><CERTIFICATEUR><NOM_CERTIFICATEUR>ECOLE D'ESSAI</NOM_CERTIFICATEUR></CERTIFICATEUR></CERTIFICATEURS>
    <BLOCS_COMPETENCES>
      <BLOC_COMPETENCES>
        <CODE>{number}BC01</CODE>
        <LIBELLE>Analyser le besoin</LIBELLE>
        <LISTE_COMPETENCES>A1C1. Recueillir le besoin du client   A1C2.Rédiger le cahier des charges en
   tenant compte des contraintes</LISTE_COMPETENCES>
        <MODALITES_EVALUATION>A1C1. Dossier écrit d'analyse    A1C2. Soutenance orale du cahier
   des charges</MODALITES_EVALUATION>
      </BLOC_COMPETENCES>
      <BLOC_COMPETENCES>
        <CODE>{number}BC02</CODE>
        <LIBELLE>Réaliser</LIBELLE>
        <LISTE_COMPETENCES>- Développer l'application  - Tester l'application</LISTE_COMPETENCES>
        <MODALITES_EVALUATION>Mise en situation professionnelle</MODALITES_EVALUATION>
      </BLOC_COMPETENCES>
    </BLOCS_COMPETENCES>
  </FICHE>"""


def export(tmp_path: Path, *numbers: str, version: str = "4.1", name: str = "export.xml") -> Path:
    path = tmp_path / name
    fiches = "".join(FICHE.format(number=n) for n in numbers)
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<FICHES>\n  <VERSION_FLUX>{version}</VERSION_FLUX>{fiches}\n</FICHES>\n"
    )
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join((result.stdout + result.stderr).split())  # rich wraps long lines


def write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text)
    return folder / name


# --- splitting free text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codes", "texts"),
    [
        ("A1C1. Evaluer le contexte       A1C2.Apprécier les incidences", [["A1C1"], ["A1C2"]], None),
        ("C.1. Organiser une réunion      C.2. Analyser les besoins", [["C.1"], ["C.2"]], None),
        (
            "1.1 Recueillir le besoin    1.1.1 Auditer les parties    3.1  Organiser",
            [["1.1"], ["1.1.1"], ["3.1"]],
            None,
        ),
        (
            "- Analyser le dossier  - Comparer plusieurs solutions",
            [[], []],
            ["Analyser le dossier", "Comparer plusieurs solutions"],
        ),
        ("• Coder      • Installer un réseau", [[], []], ["Coder", "Installer un réseau"]),
        ("* Valider le réseau      * Maintenir", [[], []], ["Valider le réseau", "Maintenir"]),
        (
            "Mettre en place une base  Développer des composants",
            [[], []],
            ["Mettre en place une base", "Développer des composants"],
        ),
        (
            "A2C2. et A2C3. Analyse de situations   A3C3 à A3C6. Notes",
            [["A2C2", "A2C3"], ["A3C3", "A3C4", "A3C5", "A3C6"]],
            None,
        ),
    ],
)
def test_free_text_lists_split_into_items_with_their_codes(
    text: str, codes: list[list[str]], texts: list[str] | None
) -> None:
    items = split_items(text)
    assert [i.codes for i in items] == codes
    if texts is not None:
        assert [i.text for i in items] == texts


def test_wrapped_lines_continue_their_item_and_a_lead_in_is_kept_apart() -> None:
    items = split_items(
        "En mobilisant une analyse du contexte :   A5.C1. Réaliser un diagnostic   de la situation    "
        "A5.C2. Valider les modalités"
    )
    lead, rest = lead_in(items)
    assert lead == "En mobilisant une analyse du contexte"
    assert [(i.codes, i.text) for i in rest] == [
        (["A5.C1"], "Réaliser un diagnostic de la situation"),
        (["A5.C2"], "Valider les modalités"),
    ]
    assert rest[0].original == "A5.C1. Réaliser un diagnostic de la situation"


# --- open data ------------------------------------------------------------------------------------


def test_a_fiche_becomes_a_competency_level_draft_with_provenance(tmp_path: Path) -> None:
    draft = import_sources([export(tmp_path, "RNCP11111", "RNCP22222")], rncp="rncp22222")
    ref = draft.referential
    assert ref.draft and ref.rncp == "RNCP22222" and ref.id == "rncp22222-technicien-d-essai"
    assert [b.code for b in ref.blocks] == ["RNCP22222BC01", "RNCP22222BC02"]
    first, second = ref.blocks
    assert [c.code for c in first.competencies] == ["A1C1", "A1C2"]
    assert first.competencies[1].statement == "Rédiger le cahier des charges en tenant compte des contraintes"
    # Modalities that name competencies are tied to them; the written one is told from the oral one.
    assert [(m.id, m.kind) for m in first.modalities] == [("M1", "written"), ("M2", "oral")]
    assert [c.modality for c in first.competencies] == ["M1", "M2"]
    assert first.open_data is not None and first.open_data.competencies.startswith("A1C1. Recueillir")
    assert [c.code_printed for c in second.competencies] == [False, False]
    assert all(c.level is CriterionLevel.COMPETENCY for c in ref.criteria)
    assert ref.criteria[0].text == "Recueillir le besoin du client"
    assert str(ref.criteria[0].provenance) == (
        "export.xml, FICHE[RNCP22222]/BLOC_COMPETENCES[RNCP22222BC01]/LISTE_COMPETENCES"
    )


def test_the_cli_writes_a_draft_that_validate_accepts_and_show_explains(tmp_path: Path) -> None:
    out = tmp_path / "drafts" / "technicien.yaml"
    code, text = invoke(
        "referentials", "import", str(export(tmp_path, "RNCP22222")), "--rncp", "RNCP22222", "-o", str(out)
    )
    assert code == 0, text
    assert "4 au niveau de la compétence" in text
    assert out.read_text().startswith("# Brouillon de référentiel importé")
    ref, _ = check_file(out)
    assert ref is not None and ref.draft
    code, text = invoke("referentials", "validate", str(out))
    assert code == 0 and "brouillon importé, pas encore relu" in text
    code, text = invoke("--referentials", str(out.parent), "referentials", "show", ref.id, "--provenance")
    assert code == 0 and "BROUILLON" in text and "lu dans : export.xml" in text
    code, text = invoke("referentials", "list", "--referentials", str(out.parent), "--json")
    assert code == 0 and ref.id in text


def test_all_writes_one_draft_per_fiche_from_a_zip(tmp_path: Path) -> None:
    xml = export(tmp_path, "RNCP11111", "RNCP22222")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(xml, "export_fiches.xml")
    code, text = invoke("referentials", "import", str(archive), "--all", "-o", str(tmp_path / "all"))
    assert code == 0, text
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "rncp11111-technicien-d-essai.yaml",
        "rncp22222-technicien-d-essai.yaml",
    ]


def test_a_large_export_is_streamed_one_fiche_at_a_time(tmp_path: Path) -> None:
    path = export(tmp_path, *(f"RNCP{n:05d}" for n in range(3000)))
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_fiches(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3000
    assert peak < path.stat().st_size / 4  # never the whole file, nor its tree


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: export(p, "RNCP11111", version="3.0"), ["--rncp", "RNCP11111"], "format V3.0"),
        (lambda p: export(p, "RNCP11111"), ["--rncp", "RNCP40404"], "la fiche RNCP40404 n'y figure pas"),
        (lambda p: export(p, "RNCP11111"), [], "précisez la fiche"),
        (lambda p: export(p, "RNCP11111"), ["--rncp", "37674"], "n'est pas un numéro de fiche"),
        (
            lambda p: write(p, "cut.xml", "<FICHES><VERSION_FLUX>4.1</VERSION_FLUX><FICHE>"),
            ["--rncp", "RNCP11111"],
            "XML illisible",
        ),
        (lambda p: write(p, "other.xml", "<catalog/>"), ["--rncp", "RNCP11111"], "<catalog>"),
        (
            lambda p: write(p, "notes.txt", "Compte rendu de réunion.\nRien à voir.\n"),
            [],
            "ne semble pas être un référentiel",
        ),
    ],
)
def test_bad_input_gets_a_french_message_and_no_draft(tmp_path: Path, make, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    source = make(tmp_path)
    out = tmp_path / "out" / "draft.yaml"
    code, text = invoke("referentials", "import", str(source), *args, "-o", str(out))
    assert code == 1
    assert message in text and "Traceback" not in text
    assert not out.exists()
    assert not list(out.parent.glob("*")) if out.parent.exists() else True


def test_a_failed_import_leaves_the_previous_draft_untouched(tmp_path: Path) -> None:
    out = tmp_path / "draft.yaml"
    out.write_text("précédent\n")
    code, _ = invoke("referentials", "import", str(export(tmp_path, "RNCP1")), "--rncp", "RNCP2", "-o", str(out))
    assert code == 1 and out.read_text() == "précédent\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# --- référentiel layouts, from text -----------------------------------------------------------------

REAC_TEXT = """FICHE COMPÉTENCE PROFESSIONNELLE
N° 1

Maquetter une application

Description de la compétence – processus de mise en œuvre

A partir de cas d'utilisation, concevoir les maquettes.

Critères de performance

La maquette prend en compte les spécificités fonctionnelles décrites dans les cas d'utilisation ou les
scénarios utilisateur
La maquette respecte la charte graphique de l'entreprise
\fFICHE COMPÉTENCE PROFESSIONNELLE
N° 2

Concevoir une base de données

Description de la compétence – processus de mise en œuvre

Etablir le schéma.

Critères de performance

Le schéma respecte le formalisme
du modèle entité association

Savoirs, savoir-faire techniques

Connaissance du modèle relationnel
"""

GRID_TEXT = """MODALITÉS D'ÉVALUATION CRITÈRES D'ÉVALUATION

Bloc de compétences n° 1 : Elaboration du plan d'action

C.1.1a Exercer une fonction de veille sur son secteur.

C.1.1b Analyser les comportements d'achat des clients.

M1 – Dossier de développement commercial

En relation avec les compétences C.1.1 :

• Qualité de la méthode et de la
recherche d'informations :

- les sources d'information internes et
externes sélectionnées sont suffisantes,

- le choix des informations exploitées est
justifié au regard de l'étude.

Bloc de compétences n° 2 : Prospection

C2 - Définir les cibles à approcher.

Pour C2 :
La cible est définie de façon cohérente
avec la stratégie de l'entreprise.
"""


def test_reac_sheets_give_their_performance_criteria_wrapped_and_across_pages(tmp_path: Path) -> None:
    source = tmp_path / "reac.txt"
    source.write_text(REAC_TEXT)
    ref = import_sources([source]).referential
    assert [c.statement for c in ref.blocks[0].competencies] == [
        "Maquetter une application",
        "Concevoir une base de données",
    ]
    texts = [c.text for c in ref.criteria]
    assert texts == [
        "La maquette prend en compte les spécificités fonctionnelles décrites dans les cas d'utilisation ou les "
        "scénarios utilisateur",
        "La maquette respecte la charte graphique de l'entreprise",
        "Le schéma respecte le formalisme du modèle entité association",
    ]
    assert [c.provenance.page for c in ref.criteria if c.provenance] == [1, 1, 2]


def test_grids_tie_criteria_to_the_competencies_their_mark_names(tmp_path: Path) -> None:
    source = tmp_path / "grille.txt"
    source.write_text(GRID_TEXT)
    draft = import_sources([source])
    ref = draft.referential
    assert [b.code for b in ref.blocks] == ["B1", "B2"]
    first = ref.criteria_of("B1")
    assert [c.text for c in first] == [
        "les sources d'information internes et externes sélectionnées sont suffisantes",
        "le choix des informations exploitées est justifié au regard de l'étude.",
    ]
    assert first[0].group == "Qualité de la méthode et de la recherche d'informations"
    # One list for C.1.1a and C.1.1b, under the printed key: one set, both competencies.
    assert first[0].competencies == ["C.1.1a", "C.1.1b"] and first[0].id.endswith("/B1/C.1.1/1")
    assert first[0].provenance is not None and first[0].provenance.line == 16
    (second,) = ref.criteria_of("B2")
    assert second.text == "La cible est définie de façon cohérente avec la stratégie de l'entreprise."
    assert ref.blocks[0].modalities[0].title == "Dossier de développement commercial"


def _imported_text(tmp_path: Path, text: str) -> Referential:
    source = tmp_path / "grille.txt"
    source.write_text(text)
    return import_sources([source]).referential


# pdftotext's output for a grid whose columns it interleaved: the criteria column is cut by an indented
# line (another column), its rest comes after the other columns' blocks, as does its next item.
INTERLEAVED_GRID_TEXT = """Bloc de compétences n° 1 : Prospection

C1.1 Identifier les prospects du secteur, en croisant les fichiers internes et les annuaires (chambres,

C1.2 Obtenir des rendez-vous qualifiés avec les prospects retenus.

En relation avec la compétence C1.1

• Qualité du repérage des prospects :

- le fichier des prospects est constitué à partir de sources
 A1.2 La prise de rendez-vous


réseaux…), afin de cibler les entreprises du secteur.

En relation avec la compétence C1.2

Un fichier de prospects

Production écrite


fiables et recoupées,

- les prospects sont classés selon leur potentiel,
 Travail individuel
Production orale

En relation avec la compétence C1.2

- les critères de classement sont explicites.

En relation avec la compétence C1.2

• Qualité de la prise de rendez-vous :

- les rendez-vous obtenus correspondent aux prospects prioritaires.
"""


def test_a_criterion_cut_by_another_column_gets_its_rest_and_its_list_back(tmp_path: Path) -> None:
    criteria = _imported_text(tmp_path, INTERLEAVED_GRID_TEXT).criteria
    assert [(c.text, c.competencies, c.group) for c in criteria] == [
        (
            "le fichier des prospects est constitué à partir de sources fiables et recoupées",
            ["C1.1"],
            "Qualité du repérage des prospects",
        ),
        ("les prospects sont classés selon leur potentiel", ["C1.1"], "Qualité du repérage des prospects"),
        ("les critères de classement sont explicites.", ["C1.1"], "Qualité du repérage des prospects"),
        (
            "les rendez-vous obtenus correspondent aux prospects prioritaires.",
            ["C1.2"],
            "Qualité de la prise de rendez-vous",
        ),
    ]


STATEMENTS_GRID_TEXT = """Bloc de compétences n° 1 : Vente

C1 Présenter une offre à un client.

L'offre présentée est adaptée aux besoins du client.

L’argumentaire est clair et concis.

Chaque étape de l'entretien a une durée prévue.

Durée : 30 minutes

La mise en situation fait l’objet d’une soutenance orale devant le jury.

Le cas pratique fait l’objet d’un dossier écrit remis au jury.
"""


def test_an_elided_article_a_duration_and_a_modality_named_after_an_article_are_told_apart(tmp_path: Path) -> None:
    # « L'offre » is not a verb opening a competency; « une durée » in a sentence is not a modality's
    # duration; « La mise en situation … » describes the modality, not what is judged.
    ref = _imported_text(tmp_path, STATEMENTS_GRID_TEXT)
    assert [c.code for c in ref.blocks[0].competencies] == ["C1"]
    assert [(c.text, c.competencies) for c in ref.criteria] == [
        ("L'offre présentée est adaptée aux besoins du client.", ["C1"]),
        ("L’argumentaire est clair et concis.", ["C1"]),
        ("Chaque étape de l'entretien a une durée prévue.", ["C1"]),
    ]


KNOWLEDGE_GRID_TEXT = """Bloc de compétences n° 1 : Négociation

Préparer la négociation avec le client
Connaissances associées :
- Techniques de négociation
- Analyse financière
Conduire l'entretien de négociation jusqu'à l'accord
Connaissances associées :
- Expression orale

• Les objectifs de la négociation sont fixés et hiérarchisés.
• Les concessions possibles sont chiffrées.
"""


def test_a_knowledge_list_is_not_read_into_the_competency_before_or_after_it(tmp_path: Path) -> None:
    # Printed without blank lines, « Connaissances associées : » still starts its list, and the list's last
    # item ends where the next competency opens with its verb.
    ref = _imported_text(tmp_path, KNOWLEDGE_GRID_TEXT)
    assert [c.statement for c in ref.blocks[0].competencies] == [
        "Préparer la négociation avec le client",
        "Conduire l'entretien de négociation jusqu'à l'accord",
    ]
    assert [(c.text, c.competencies) for c in ref.criteria if c.level is CriterionLevel.CRITERION] == [
        ("Les objectifs de la négociation sont fixés et hiérarchisés.", ["CP2"]),
        ("Les concessions possibles sont chiffrées.", ["CP2"]),
    ]


def _import_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("referential_import", ROOT / "benchmarks" / "referential_import.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_import_benchmark_counts_typography_and_line_break_hyphens_but_not_other_words() -> None:
    benchmark = _import_benchmark()
    curated = ["Le plan d’action est « clair » ; les coûts – chiffrés (voir annexe).", "La plus-value est démontrée"]
    imported = ["Le plan d'action est «clair»; les coûts - chiffrés ( voir annexe )", "La plus-\nvalue est démontrée."]
    assert [benchmark.normalise(text) for text in imported] == [benchmark.normalise(text) for text in curated]
    agreement = benchmark.agreement
    assert agreement(imported, curated) == (1.0, 1.0, [], [])
    other = ["Le budget de l'action est validé par la direction."]
    assert agreement(other, curated[:1]) == (0.0, 0.0, curated[:1], other)


def test_criteria_from_a_document_join_the_matching_competencies_of_the_fiche(tmp_path: Path) -> None:
    xml = tmp_path / "export.xml"
    xml.write_text(
        export(tmp_path, "RNCP22222")
        .read_text()
        .replace("- Développer l'application  - Tester l'application", "- Maquetter une application  - Tester")
    )
    reac = tmp_path / "reac.txt"
    reac.write_text(REAC_TEXT)
    draft = import_sources([reac, xml], rncp="RNCP22222")
    ref = draft.referential
    block = ref.block("RNCP22222BC02")
    assert [(c.text, c.level) for c in ref.criteria_of(block.code)][:2] == [
        (
            "La maquette prend en compte les spécificités fonctionnelles décrites dans les cas d'utilisation ou "
            "les scénarios utilisateur",
            CriterionLevel.CRITERION,
        ),
        ("La maquette respecte la charte graphique de l'entreprise", CriterionLevel.CRITERION),
    ]
    assert any("Concevoir une base de données" in str(u) for u in draft.unread)
    assert "Non lu ou non repris (1)" in draft.yaml()


# --- real référentiels ------------------------------------------------------------------------------


@needs_realdata
def test_real_rc_tables_are_read_by_column_across_page_breaks() -> None:
    ref = import_sources([REAL / "TP_developpeur_logiciel_RC.pdf"]).referential
    assert ref.counts() == {"blocks": 3, "competencies": 11, "criteria": 24}
    mobile = [
        c
        for c in ref.criteria
        if c.competency_statements == ["Développer une application simple de mobilité numérique"]
    ]
    assert [c.text for c in mobile] == [
        "Les fonctionnalités de l'application sont conformes au cahier des charges fonctionnel",
        "L'ergonomie respecte l'expérience utilisateur du matériel cible mis en œuvre",
    ]
    assert {c.provenance.page for c in mobile if c.provenance} == {9}


@needs_realdata
def test_real_reac_sheets_and_the_fiche_combine() -> None:
    reac = import_sources([REAL / "TP_developpeur_logiciel_REAC.pdf"]).referential
    assert reac.counts() == {"blocks": 2, "competencies": 11, "criteria": 50}
    assert all(c.level is CriterionLevel.CRITERION for c in reac.criteria)


@needs_realdata
def test_every_block_code_of_the_real_export_is_in_the_drafts() -> None:
    import xml.etree.ElementTree as ET

    codes = {e.text for e in ET.parse(EXPORT).getroot().iterfind("FICHE/BLOCS_COMPETENCES/BLOC_COMPETENCES/CODE")}
    drafted = {b.code for fiche in iter_fiches(EXPORT) for b in draft_of([fiche]).referential.blocks}
    assert codes == drafted and len(codes) == 53


@needs_realdata
@pytest.mark.parametrize(
    ("document", "said"),
    [
        (
            "scanned/SCANNED_michel_et_andre_2.pdf",
            "référentiel scanné, aucune page ne contient de texte ; relancez avec --ocr",
        ),
        ("dossiers/sayna_marketing_mix.pdf", "ne semble pas être un référentiel"),
    ],
)
def test_a_scanned_pdf_or_one_that_is_not_a_referential_is_refused(tmp_path: Path, document: str, said: str) -> None:
    code, text = invoke("referentials", "import", str(SHARED / "realdata" / document), "-o", str(tmp_path / "d.yaml"))
    assert code == 1 and said in text
    assert not (tmp_path / "d.yaml").exists()


def test_missing_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure, match="introuvable"):
        import_sources([tmp_path / "absent.pdf"])


def test_an_imported_draft_assesses_a_dossier_at_competency_level(tmp_path: Path) -> None:
    folder = tmp_path / "refs"
    folder.mkdir()
    code, text = invoke(
        "referentials", "import", str(export(tmp_path, "RNCP22222")), "--rncp", "RNCP22222", "-o", str(folder)
    )
    assert code == 0, text
    assert (folder / "rncp22222-technicien-d-essai.yaml").is_file()  # -o DIR: named after the id
    dossier = write(
        tmp_path,
        "dossier.md",
        "# Mon projet\n\nJ'ai recueilli le besoin du client lors de trois entretiens, puis j'ai rédigé le "
        "cahier des charges en tenant compte des contraintes de budget.\n",
    )
    report = tmp_path / "rapport.md"
    code, text = invoke(
        "--data-dir",
        str(tmp_path / "data"),
        "assess",
        str(dossier),
        "--referential",
        "rncp22222-technicien-d-essai",
        "--referentials",
        str(folder),
        "--llm",
        "baseline",
        "-o",
        str(report),
    )
    assert code == 0, text
    markdown = report.read_text()
    assert "Recueillir le besoin du client (évalué au niveau de la compétence)" in markdown


def _line(*runs: tuple[float, float, str], top: float) -> Line:
    return Line([Run(text, x0, x1, top, top + 10) for x0, x1, text in runs])


def _rc_page(*rows: Line, columns: list[float]) -> PageLayout:
    header = _line((70, 240, "Compétences professionnelles"), (338, 452, "Critères d’évaluation"), top=100)
    return PageLayout(
        blocks=[Block([header]), Block(list(rows), table=[[row] for row in rows], columns=columns)],
        width=842,
        height=595,
    )


def test_rc_tables_are_read_by_column_and_go_on_over_a_page_break() -> None:
    first = _rc_page(
        _line(
            (50, 180, "Concevoir une base de"), (266, 500, "Le schéma entité association couvre les règles"), top=200
        ),
        _line((50, 90, "données"), (266, 320, "de gestion"), top=212),
        _line((266, 480, "Le schéma respecte le formalisme du modèle"), top=224),
        columns=[50, 266],
    )
    second = _rc_page(
        _line((266, 330, "entité association"), top=200),  # the criterion goes on over the page break
        _line((266, 470, "Le schéma physique est normalisé"), top=212),  # the table too, same competency
        _line((50, 500, "Maquetter une application La maquette respecte la charte"), top=236),  # one run, two cells
        columns=[50, 266],
    )
    reading = read_rc("rc.pdf", [first, None, second])
    (competency, maquette) = reading.competencies
    assert competency.statement == "Concevoir une base de données"
    assert [(c.text, c.provenance.page) for c in competency.criteria] == [
        ("Le schéma entité association couvre les règles de gestion", 1),
        ("Le schéma respecte le formalisme du modèle entité association", 1),
        ("Le schéma physique est normalisé", 3),
    ]
    assert maquette.statement == "Maquetter une application"
    assert [c.text for c in maquette.criteria] == ["La maquette respecte la charte"]


@needs_realdata
@pytest.mark.skipif(tesseract_status() is not None, reason="tesseract with French is not installed")
def test_with_ocr_a_scanned_pdf_is_read_before_being_judged(tmp_path: Path) -> None:
    scanned = SHARED / "realdata" / "scanned" / "SCANNED_michel_et_andre_2.pdf"
    code, text = invoke("referentials", "import", str(scanned), "--ocr", "-o", str(tmp_path / "d.yaml"))
    # Read by OCR, then refused for what it is: a dossier page, not a référentiel.
    assert code == 1 and "ne semble pas être un référentiel" in text and "scanné" not in text
    assert not (tmp_path / "d.yaml").exists()
