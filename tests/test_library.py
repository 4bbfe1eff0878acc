"""Loading référentiel files: every problem is located (file, line, place) and explained in French."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assessor.library import (
    Library,
    ReferentialError,
    ReferentialNotFound,
    Severity,
    check_file,
    load_referential,
    shipped_referentials_dir,
)
from test_referential_model import minimal

VALID = yaml.safe_dump(minimal(), allow_unicode=True, sort_keys=False)


def write(tmp_path: Path, text: str, name: str = "demo-ref.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_error(path: Path) -> tuple[int | None, str, str]:
    ref, problems = check_file(path)
    assert ref is None
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert len(errors) == 1, errors
    return errors[0].line, errors[0].place, errors[0].message


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_valid_file_loads(tmp_path: Path) -> None:
    ref = load_referential(write(tmp_path, VALID))
    assert ref.counts() == {"blocks": 1, "competencies": 3, "criteria": 4}


def test_misspelled_field_names_the_line_and_suggests_the_right_name(tmp_path: Path) -> None:
    text = VALID.replace("statement: Négocier.", "statment: Négocier.")
    _, problems = check_file(write(tmp_path, text))
    unknown, missing = sorted(problems, key=lambda p: "manque" in p.message)
    assert unknown.line == line_of(text, "statment")
    assert unknown.place == "bloc B1 › compétence C2 › statment"
    assert "« statment » inconnu" in unknown.message
    assert "Vouliez-vous écrire « statement » ?" in unknown.message
    assert missing.place == "bloc B1 › compétence C2 › statement"
    assert missing.message == "le champ obligatoire « statement » manque"


def test_missing_field(tmp_path: Path) -> None:
    text = VALID.replace("  title: Bloc un\n", "")
    line, place, message = only_error(write(tmp_path, text))
    assert place == "bloc B1 › title"
    assert message == "le champ obligatoire « title » manque"
    assert line == line_of(text, "- code: B1")


def test_unknown_modality_kind_lists_the_possible_values(tmp_path: Path) -> None:
    text = VALID.replace("kind: role_play", "kind: jeu_de_role")
    line, place, message = only_error(write(tmp_path, text))
    assert line == line_of(text, "jeu_de_role")
    assert place == "bloc B1 › modalité M2 › kind"
    assert "« jeu_de_role » inconnue" in message and "'role_play'" in message


def test_dangling_reference_is_located_on_its_line(tmp_path: Path) -> None:
    text = VALID.replace("modality: M2", "modality: M3")
    line, place, message = only_error(write(tmp_path, text))
    assert line == line_of(text, "modality: M3")
    assert place == "bloc B1 › compétence C2 › modality"
    assert message == "la modalité « M3 » n'existe pas dans le bloc B1 (modalités définies : M1, M2)"


def test_empty_text(tmp_path: Path) -> None:
    text = VALID.replace("statement: Négocier.", "statement: ''")
    line, place, message = only_error(write(tmp_path, text))
    assert (line, place, message) == (
        line_of(text, "statement: ''"),
        "bloc B1 › compétence C2 › statement",
        "le texte est vide",
    )


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("statement: Négocier.", "statement: ''").replace("kind: written", "kind: ecrit")
    _, problems = check_file(write(tmp_path, text))
    assert len(problems) == 2


def test_yaml_syntax_error_gives_the_line_and_advice(tmp_path: Path) -> None:
    text = VALID.replace("title: Bloc un", "title: Bloc un\n   oops: [")
    line, place, message = only_error(write(tmp_path, text))
    assert line is not None and abs(line - line_of(text, "oops")) <= 2
    assert place == ""
    assert message.startswith("YAML illisible") and "indentation" in message


def test_duplicate_keys_are_refused_instead_of_silently_overwritten(tmp_path: Path) -> None:
    text = VALID.replace("title: Bloc un", "title: Bloc un\n  title: Bloc deux")
    line, _, message = only_error(write(tmp_path, text))
    assert "clé « title » en double" in message
    assert line == line_of(text, "Bloc deux")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.encode("latin-1"))
    _, _, message = only_error(path)
    assert "UTF-8" in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "juste du texte\n"])
def test_a_file_that_is_not_a_referential(tmp_path: Path, text: str) -> None:
    _, _, message = only_error(write(tmp_path, text))
    assert "doit décrire un référentiel" in message


def test_load_referential_raises_with_all_problems(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("modality: M2", "modality: M3"))
    with pytest.raises(ReferentialError) as caught:
        load_referential(path)
    assert caught.value.path == path
    assert f"{path}:" in str(caught.value)


def test_library_prefers_configured_folders_and_explains_unknown_ids(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    library = Library([tmp_path, shipped_referentials_dir()])
    assert library.get("demo-ref").title == "Référentiel de démonstration"
    assert library.get("grands-comptes").id == "grands-comptes"
    with pytest.raises(ReferentialNotFound, match=r"Vouliez-vous dire « grands-comptes » \?"):
        library.get("grand-comptes")


def test_library_reports_invalid_files_without_hiding_valid_ones(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    write(tmp_path, "id: [", name="broken.yaml")
    items = dict(Library([tmp_path]).all())
    assert isinstance(items[tmp_path / "broken.yaml"], ReferentialError)
    assert not isinstance(items[tmp_path / "demo-ref.yaml"], ReferentialError)


def test_shipped_referentials_load_without_warnings() -> None:
    files = sorted(shipped_referentials_dir().glob("*.yaml"))
    assert len(files) == 5
    for path in files:
        ref, problems = check_file(path)
        assert ref is not None and problems == [], problems
        assert ref.id == path.stem


def test_a_file_named_differently_from_its_id_is_found_by_id_and_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, VALID, name="copie.yaml")
    _, problems = check_file(path)
    assert [(p.severity, p.place) for p in problems] == [(Severity.WARNING, "id")]
    assert "« demo-ref.yaml »" in problems[0].message
    library = Library([tmp_path])
    assert library.get("demo-ref").id == "demo-ref"
    with pytest.raises(ReferentialNotFound):
        library.get("copie")


def test_the_worked_example_of_the_authoring_guide_is_valid_and_shows_every_feature() -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "assistant-commercial-exemple.yaml"
    ref, problems = check_file(example)
    assert ref is not None and problems == []
    assert len(ref.scale.levels) == 4
    assert any(not c.code_printed for b in ref.blocks for c in b.competencies)
    assert any(len(s.competencies) > 1 and s.relation for b in ref.blocks for s in b.criteria)
    assert {m.kind for b in ref.blocks for m in b.modalities} >= {"written", "role_play"}
    headings = [g.heading for b in ref.blocks for s in b.criteria for g in s.groups]
    assert None in headings and any(headings)
