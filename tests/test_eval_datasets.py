"""Evaluation datasets: the sample dossiers' labels, JSON Lines, manifests, and the jury's grid import."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assessor.cli.evaluate import eval_app
from assessor.evaluation.datasets import (
    REVIEW_COLUMNS,
    DatasetError,
    dumps_jsonl,
    import_review_grid,
    load_dataset,
    load_labels_jsonl,
)

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "evals" / "datasets" / "sample_dossiers.yaml"
SAMPLES = ROOT / "sample_dossiers"

app = typer.Typer()
app.add_typer(eval_app, name="eval")
runner = CliRunner()


def flat(text: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(text.split())


def test_the_manifest_points_at_the_sample_dossiers_labels_without_copying_them() -> None:
    dataset = load_dataset(MANIFEST)
    sources = sorted(SAMPLES.glob("*/labels.json"))
    assert [e.dossier for e in dataset.entries] == [p.parent.name for p in sources]
    for entry, path in zip(dataset.entries, sources, strict=True):
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert [c.criterion_id for c in entry.criteria] == [c["criterion_id"] for c in raw["criteria"]]
        assert [c.outcome for c in entry.criteria] == [c["outcome"] for c in raw["criteria"]]
        assert sum(len(c.evidence) for c in entry.criteria) == sum(len(c["evidence"]) for c in raw["criteria"])
        assert dataset.dossier_files[entry.dossier] == [path.parent / "dossier.pdf"]
        assert entry.referential == raw["referential"] and entry.block == raw["block"]
    assert sum(len(e.criteria) for e in dataset.entries) == 77
    first = dataset.entries[0].criteria[0].evidence[0]
    assert first.file == "dossier.pdf" and first.page is not None and first.quote


def test_a_folder_of_labels_and_a_single_labels_file_load_the_same_entries() -> None:
    folder = load_dataset(SAMPLES)
    assert [e.dossier for e in folder.entries] == [e.dossier for e in load_dataset(MANIFEST).entries]
    single = load_dataset(SAMPLES / "manager-b2" / "labels.json")
    assert [e.dossier for e in single.entries] == ["manager-b2"]


def test_jsonl_round_trip(tmp_path: Path) -> None:
    entries = load_dataset(MANIFEST).entries
    path = tmp_path / "labels.jsonl"
    path.write_text(dumps_jsonl(entries), encoding="utf-8")
    assert load_labels_jsonl(path) == entries
    assert load_dataset(path).name == "labels"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"dossier": "d", "criteria": [{"criterion_id": "c", "outcome": "a_examiner"}]}', "pas une décision"),
        ('{"dossier": "d", "criteria": [{"criterion_id": "c", "outcome": "Acquis"}]}', "étiquettes invalides"),
        (
            '{"dossier": "d", "criteria": [{"criterion_id": "c", "outcome": "acquis"}, '
            '{"criterion_id": "c", "outcome": "non_acquis"}]}',
            "critère en double",
        ),
        ('{"dossier": "d", "criteria": []}', "étiquettes invalides"),
        ('{"dossier": "d", "criteria": [', "JSON invalide"),
    ],
)
def test_invalid_labels_are_refused_with_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n" + content + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message) as caught:
        load_dataset(path)
    assert "ligne 2" in str(caught.value)


def test_manifest_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("dossiers:\n  - labels: absent.json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="introuvable"):
        load_dataset(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("name: x\ndossier: []\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="clé inconnue"):
        load_dataset(tmp_path / "b.yaml")
    labels = SAMPLES / "omnicanal-b1" / "labels.json"
    (tmp_path / "c.yaml").write_text(f"dossiers:\n  - labels: {labels}\n  - labels: {labels}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="deux fois"):
        load_dataset(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text(f"dossiers:\n  - labels: {labels}\n    key: autre\n", encoding="utf-8")
    assert load_dataset(tmp_path / "d.yaml").entries[0].dossier == "autre"
    with pytest.raises(DatasetError, match="format non reconnu"):
        load_dataset(SAMPLES / "omnicanal-b1" / "source.md")


# --- The review app's export ---------------------------------------------------------------------


def grid_row(criterion: str, action: str, outcome: str, **extra: str) -> dict[str, str]:
    row = dict.fromkeys(REVIEW_COLUMNS, "")
    row.update(
        review_id="rev-1",
        revision="2",
        candidate="cand-42",
        referential_id="grands-comptes",
        referential_version="2024",
        block="B1",
        criterion_id=criterion,
        machine_model="openai:gpt",
        machine_outcome="acquis",
        jury_action=action,
        jury_outcome=outcome,
        review_status="signee",
        signed_by="jdupont",
        signed_by_name="Jeanne Dupont",
        signed_at="2026-06-30T10:00:00+00:00",
    )
    row.update(extra)
    return row


def write_grid(path: Path, rows: list[dict[str, str]], columns: list[str] = REVIEW_COLUMNS, sep: str = ";") -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=sep, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


def test_import_keeps_decided_criteria_with_comments_and_counts_the_undecided(tmp_path: Path) -> None:
    grid = write_grid(
        tmp_path / "grille.csv",
        [
            grid_row("grands-comptes/B1/C1/1", "accepte", "acquis", jury_comment="Analyse complète ; sources citées."),
            grid_row("grands-comptes/B1/C1/2", "modifie", "non_acquis", jury_reason="Pas de chiffrage"),
            grid_row("grands-comptes/B1/C1/3", "", ""),
            grid_row("grands-comptes/B1/C1/4", "accepte", "", machine_outcome="partiellement_acquis"),
        ],
    )
    imported = import_review_grid(grid)
    assert imported.undecided == 1 and imported.warnings == []
    (entry,) = imported.entries
    assert entry.dossier == "cand-42" and entry.candidate_id == "cand-42"
    assert entry.referential == "grands-comptes" and entry.block == "B1"
    assert [(c.criterion_id[-4:], c.outcome, c.action) for c in entry.criteria] == [
        ("C1/1", "acquis", "accepte"),
        ("C1/2", "non_acquis", "modifie"),
        ("C1/4", "partiellement_acquis", "accepte"),  # an accepted proposal's outcome
    ]
    assert entry.criteria[0].comment == "Analyse complète ; sources citées."
    assert entry.source and "Jeanne Dupont" in entry.source and "openai:gpt" in entry.source
    assert import_review_grid(grid, dossier_key="dossier-7").entries[0].dossier == "dossier-7"


def test_import_refuses_an_unsigned_review_unless_allowed(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.csv", [grid_row("c/1", "accepte", "acquis", review_status="en_cours")])
    with pytest.raises(DatasetError, match=r"n'est pas signée.*--allow-unsigned"):
        import_review_grid(grid)
    imported = import_review_grid(grid, allow_unsigned=True)
    assert imported.entries[0].criteria[0].outcome == "acquis" and "non signée" in imported.warnings[0]


def test_import_refuses_missing_columns_and_bad_values(tmp_path: Path) -> None:
    columns = [c for c in REVIEW_COLUMNS if c not in ("jury_outcome", "review_status")]
    grid = write_grid(tmp_path / "g.csv", [grid_row("c/1", "accepte", "acquis")], columns)
    with pytest.raises(DatasetError, match="jury_outcome, review_status"):
        import_review_grid(grid)
    comma = write_grid(tmp_path / "v.csv", [grid_row("c/1", "accepte", "acquis")], sep=",")
    with pytest.raises(DatasetError, match="séparateur attendu"):
        import_review_grid(comma)
    bad = write_grid(tmp_path / "b.csv", [grid_row("c/1", "valide", "acquis")])
    with pytest.raises(DatasetError, match="action du jury inconnue"):
        import_review_grid(bad)
    bad = write_grid(tmp_path / "o.csv", [grid_row("c/1", "modifie", "a_examiner")])
    with pytest.raises(DatasetError, match="résultat du jury invalide"):
        import_review_grid(bad)
    two = write_grid(
        tmp_path / "t.csv", [grid_row("c/1", "accepte", "acquis"), grid_row("c/1", "accepte", "acquis", review_id="r2")]
    )
    with pytest.raises(DatasetError, match="plusieurs revues pour le même candidat"):
        import_review_grid(two)
    with pytest.raises(DatasetError, match="une seule revue"):
        import_review_grid(two, dossier_key="k")
    (tmp_path / "latin1.csv").write_bytes("review_id;candidate\nr;Hélène\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="UTF-8"):
        import_review_grid(tmp_path / "latin1.csv")


def test_cli_import_writes_jsonl_and_reports_refusals_without_traceback(tmp_path: Path) -> None:
    grid = write_grid(tmp_path / "g.csv", [grid_row("c/1", "accepte", "acquis"), grid_row("c/2", "", "")])
    out = tmp_path / "labels.jsonl"
    result = runner.invoke(app, ["eval", "import", str(grid), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 critère sans décision du jury, laissé de côté" in flat(result.stderr)
    assert load_dataset(out).entries[0].criteria[0].criterion_id == "c/1"
    unsigned = write_grid(tmp_path / "u.csv", [grid_row("c/1", "accepte", "acquis", review_status="en_cours")])
    result = runner.invoke(app, ["eval", "import", str(unsigned), "-o", str(out)])
    assert result.exit_code == 1
    assert (
        "Erreur" in flat(result.stderr)
        and "n'est pas signée" in flat(result.stderr)
        and "Traceback" not in result.output
    )
    result = runner.invoke(app, ["eval", "import", str(tmp_path / "absent.csv")])
    assert result.exit_code == 1 and "introuvable" in flat(result.stderr)
    result = runner.invoke(app, ["eval", "import", str(grid), "-o", str(tmp_path / "labels.csv")])
    assert result.exit_code == 1 and ".jsonl" in flat(result.stderr)
