"""The domain model: scale, ids, resolution of criteria, semantic checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from assessor.errors import UnknownName
from assessor.referential import (
    ModalityKind,
    NonVerdict,
    Referential,
    Scale,
    ScaleLevel,
    semantic_warnings,
)


def minimal() -> dict[str, Any]:
    return {
        "id": "demo-ref",
        "title": "Référentiel de démonstration",
        "version": "1",
        "source": {"file": "demo.txt"},
        "blocks": [
            {
                "code": "B1",
                "title": "Bloc un",
                "modalities": [
                    {"id": "M1", "kind": "written", "title": "Dossier", "text": "Un dossier écrit."},
                    {"id": "M2", "kind": "role_play", "title": "Jeu de rôle", "text": "Un jeu de rôle."},
                ],
                "competencies": [
                    {"code": "C1a", "statement": "Analyser le marché.", "modality": "M1"},
                    {"code": "C1b", "statement": "Analyser les clients.", "modality": "M1"},
                    {"code": "C2", "statement": "Négocier.", "modality": "M2"},
                ],
                "criteria": [
                    {
                        "key": "C1",
                        "competencies": ["C1a", "C1b"],
                        "relation": "En relation avec les compétences C1a & C1b",
                        "groups": [
                            {"heading": "Pertinence de l'analyse", "criteria": ["le marché est décrit", "x"]},
                            {"criteria": [{"text": "les clients sont segmentés"}]},
                        ],
                    },
                    {
                        "key": "C2",
                        "competencies": ["C2"],
                        "groups": [{"criteria": ["la négociation aboutit"]}],
                    },
                ],
            }
        ],
    }


def test_criteria_are_resolved_with_stable_readable_ids() -> None:
    ref = Referential.model_validate(minimal())
    ids = [c.id for c in ref.criteria]
    assert ids == ["demo-ref/B1/C1/1", "demo-ref/B1/C1/2", "demo-ref/B1/C1/3", "demo-ref/B1/C2/1"]
    first = ref.criteria[0]
    assert first.group == "Pertinence de l'analyse"
    assert first.competencies == ["C1a", "C1b"]
    assert first.modality_kinds == [ModalityKind.WRITTEN]
    assert ref.criteria[2].group is None
    assert ref.criteria[3].modality_kinds == [ModalityKind.ROLE_PLAY]
    assert not ref.criteria[3].written_assessable
    assert first.written_assessable


def test_ids_do_not_change_when_unrelated_criteria_are_added() -> None:
    before = {c.text: c.id for c in Referential.model_validate(minimal()).criteria}
    data = minimal()
    # A new criterion in another set, a new set before the others, and a new block.
    data["blocks"][0]["criteria"][1]["groups"][0]["criteria"].append("un nouveau critère")
    data["blocks"][0]["competencies"].append({"code": "C0", "statement": "Nouvelle.", "modality": "M1"})
    data["blocks"][0]["criteria"].insert(0, {"key": "C0", "competencies": ["C0"], "groups": [{"criteria": ["n"]}]})
    extra_block = copy.deepcopy(data["blocks"][0])
    extra_block["code"] = "B0"
    for comp in extra_block["competencies"]:
        comp["code"] = "X" + comp["code"]
    for crit_set in extra_block["criteria"]:
        crit_set["competencies"] = ["X" + c for c in crit_set["competencies"]]
    data["blocks"].insert(0, extra_block)
    after = {c.text: c.id for c in Referential.model_validate(data).criteria if c.block == "B1"}
    assert all(after[text] == ident for text, ident in before.items())


def test_default_scale_and_non_verdicts() -> None:
    ref = Referential.model_validate(minimal())
    labels = ref.scale.outcome_labels()
    assert list(labels) == [
        "acquis",
        "partiellement_acquis",
        "non_acquis",
        NonVerdict.INSUFFICIENT_EVIDENCE,
        NonVerdict.NOT_ASSESSABLE_IN_WRITING,
    ]
    assert labels["non_evaluable_ecrit"] == "Non évaluable sur pièces écrites"
    assert [lv.positive for lv in ref.scale.levels] == [True, True, False]


def test_a_referential_may_define_its_own_scale() -> None:
    data = minimal()
    data["scale"] = {
        "levels": [
            {"code": "expert", "label": "Expert", "positive": True},
            {"code": "maitrise", "label": "Maîtrisé", "positive": True},
            {"code": "debutant", "label": "Débutant", "positive": False},
            {"code": "absent", "label": "Absent", "positive": False},
        ]
    }
    ref = Referential.model_validate(data)
    assert [lv.code for lv in ref.scale.levels] == ["expert", "maitrise", "debutant", "absent"]
    assert "preuves_insuffisantes" in ref.scale.outcome_labels()


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        (
            [{"code": "a", "label": "A", "positive": True}, {"code": "a", "label": "B", "positive": False}],
            "double",
        ),
        (
            [
                {"code": "a", "label": "A", "positive": True},
                {"code": "preuves_insuffisantes", "label": "B", "positive": False},
            ],
            "réservé",
        ),
    ],
)
def test_scale_errors(levels: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Scale.model_validate({"levels": levels})


def test_scale_levels_need_a_code_without_spaces() -> None:
    with pytest.raises(ValidationError):
        ScaleLevel.model_validate({"code": "non acquis", "label": "x", "positive": False})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["blocks"][0]["competencies"][0].update(modality="M9"), "modalité « M9 » n'existe pas"),
        (
            lambda d: d["blocks"][0]["criteria"][0]["competencies"].append("C9"),
            "compétence « C9 » n'existe pas",
        ),
        (lambda d: d["blocks"][0]["competencies"][1].update(code="C1a"), "déjà utilisé"),
        (lambda d: d["blocks"][0]["criteria"][1].update(key="C1"), "jeu de critères en double"),
        (lambda d: d["blocks"][0]["competencies"][0].update(activity="A9"), "l'activité « A9 » n'existe pas"),
        (
            lambda d: d["blocks"][0]["criteria"][0]["groups"][0]["criteria"].append("   "),
            "at least 1 character",
        ),
        (lambda d: d["blocks"][0]["criteria"][0].update(competencies=[]), "at least 1 item"),
        (lambda d: d["blocks"][0].update(extra="x"), "Extra inputs are not permitted"),
        (lambda d: d["blocks"][0]["competencies"][0].update(code="C 1"), "String should match pattern"),
    ],
)
def test_invalid_referentials_are_refused(edit: Any, message: str) -> None:
    data = minimal()
    edit(data)
    with pytest.raises(ValidationError, match=message):
        Referential.model_validate(data)


def test_a_competency_without_criteria_is_a_warning() -> None:
    data = minimal()
    data["blocks"][0]["competencies"].append({"code": "C3", "statement": "Orpheline.", "modality": "M1"})
    ref = Referential.model_validate(data)
    warnings = list(semantic_warnings(ref))
    assert warnings == [
        (("blocks", 0, "competencies", 3), "aucun critère d'évaluation ne se rattache à la compétence C3")
    ]


def test_block_lookup_is_case_insensitive_and_explains_unknown_codes() -> None:
    ref = Referential.model_validate(minimal())
    assert ref.block("b1").code == "B1"
    with pytest.raises(UnknownName, match="blocs : B1"):
        ref.block("B7")


def test_a_draft_keeps_provenance_and_marks_competency_level_criteria() -> None:
    data = minimal()
    data["draft"] = True
    block = data["blocks"][0]
    block["provenance"] = {"file": "export.xml", "element": "FICHE[RNCP1]/BLOC_COMPETENCES[RNCP1BC01]"}
    block["open_data"] = {"competencies": "- Analyser le marché - Analyser les clients"}
    block["criteria"][1]["level"] = "competency"
    block["criteria"][0]["groups"][0]["criteria"][0] = {
        "text": "le marché est décrit",
        "provenance": {"file": "rc.pdf", "page": 8},
    }
    ref = Referential.model_validate(data)
    first, *_, last = ref.criteria
    assert str(first.provenance) == "rc.pdf, page 8"
    assert first.level == "criterion"
    assert last.level == "competency"
    assert any(loc == ("draft",) for loc, _ in semantic_warnings(ref))
    assert not any(loc == ("draft",) for loc, _ in semantic_warnings(Referential.model_validate(minimal())))


def test_the_grid_says_which_criteria_are_competencies() -> None:
    from assessor.grid import GridFormat, render_grid

    data = minimal()
    data["blocks"][0]["criteria"][1]["level"] = "competency"
    ref = Referential.model_validate(data)
    grid = render_grid(ref, GridFormat.MD)
    assert "*évalué au niveau de la compétence* — la négociation aboutit" in grid
    assert '"level": "competency"' in render_grid(ref, GridFormat.JSON)
