"""The ``assessor`` command line, driven in-process and as the installed console script."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assessor.cli import app
from assessor.cli.referentials import referential_schema
from assessor.library import shipped_referentials_dir
from test_referential_model import minimal

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_the_five_referentials() -> None:
    code, out, _ = run("referentials", "list", "--json")
    assert code == 0
    entries = {e["id"]: e for e in json.loads(out)}
    assert set(entries) == {p.stem for p in shipped_referentials_dir().glob("*.yaml")}
    assert entries["dev-commercial-omnicanal"]["criteria"] == 119
    assert sum(e["criteria"] for e in entries.values()) == 375
    code, out, _ = run("referentials", "list")
    assert code == 0 and "grands-comptes" in out and "Critères" in out


def test_show_prints_a_tree_with_criterion_ids_and_modality_kinds() -> None:
    code, out, _ = run("referentials", "show", "grands-comptes", "--block", "B1")
    assert code == 0
    assert "grands-comptes/B1/C1/1" in out
    assert "jeu de rôle" in out
    assert "B2 —" not in out


def test_show_json_has_every_criterion_as_an_object_with_id_and_text() -> None:
    code, out, _ = run("referentials", "show", "dev-commercial-omnicanal", "--json")
    assert code == 0
    data = json.loads(out)
    criteria = [
        item
        for block in data["blocks"]
        for crit_set in block["criteria"]
        for group in crit_set["groups"]
        for item in group["criteria"]
    ]
    assert len(criteria) == data["counts"]["criteria"] == 119
    assert all(set(item) >= {"id", "text"} for item in criteria)
    assert len({item["id"] for item in criteria}) == 119
    assert criteria[0]["id"] == "dev-commercial-omnicanal/B1/C.1.1/1"


def test_show_json_of_one_block() -> None:
    code, out, _ = run("referentials", "show", "plan-action-commerciale", "--json", "-b", "b3")
    assert code == 0
    assert [b["code"] for b in json.loads(out)["blocks"]] == ["B3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("referentials", "show", "inconnu"), "introuvable"),
        (("referentials", "show", "grand-comptes"), "Vouliez-vous dire « grands-comptes »"),
        (("referentials", "show", "grands-comptes", "--block", "B9"), "bloc « B9 » inconnu"),
        (("referentials", "export", "inconnu", "--format", "csv"), "introuvable"),
    ],
)
def test_unknown_ids_are_clear_errors_with_exit_code_1(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in out + err


def test_bad_format_is_a_usage_error() -> None:
    code, _, err = run("referentials", "export", "grands-comptes", "--format", "pdf")
    assert code == 2
    assert "json" in err and "csv" in err


def test_validate_all_shipped_files() -> None:
    code, out, _ = run("referentials", "validate")
    assert code == 0
    assert out.count("✓") == 5


def test_validate_reports_file_line_and_place_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text(encoding="utf-8").replace("modality: M2", "modality: M3"), encoding="utf-8")
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "modality: M3" in text)
    code, out, err = run("referentials", "validate", str(tmp_path))
    assert code == 1
    assert f"{bad}:{line}" in err
    assert "compétence C2 › modality" in err
    assert "la modalité « M3 » n'existe pas" in err
    assert "✓" in out and "✗" in out


def test_validate_a_missing_path() -> None:
    code, _, err = run("referentials", "validate", "/nonexistent/ref.yaml")
    assert code == 1 and "introuvable" in err


def test_extra_folders_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "demo-ref.yaml").write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ASSESSOR_REFERENTIALS_DIRS", json.dumps([str(tmp_path)]))
    code, out, _ = run("referentials", "show", "demo-ref", "--json")
    assert code == 0
    assert json.loads(out)["id"] == "demo-ref"


def test_export_csv_has_an_empty_column_per_verdict(tmp_path: Path) -> None:
    target = tmp_path / "grille.csv"
    code, _, _ = run("referentials", "export", "grands-comptes", "--format", "csv", "-o", str(target))
    assert code == 0
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8")), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header[-4:] == ["Acquis", "Partiellement acquis", "Non acquis", "Commentaire du jury"]
    assert len(body) == 61
    assert all(row[-4:] == ["", "", "", ""] for row in body)
    assert body[0][2] == "grands-comptes/B1/C1/1"


def test_export_json_and_markdown_of_one_block() -> None:
    code, out, _ = run("referentials", "export", "manager-developpement-commercial", "-f", "json", "-b", "B2")
    assert code == 0
    data = json.loads(out)
    assert [s["code"] for s in data["scale"]] == ["acquis", "partiellement_acquis", "non_acquis"]
    assert len(data["criteria"]) == 15
    assert all(
        c["verdict"] is None and c["id"].startswith("manager-developpement-commercial/B2/") for c in data["criteria"]
    )
    code, out, _ = run("referentials", "export", "manager-developpement-commercial", "-f", "md", "-b", "B2")
    assert code == 0
    table_rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(table_rows) == 15
    assert all(line.endswith("| | | | |") for line in table_rows)


def test_export_does_not_leave_a_half_written_file(tmp_path: Path) -> None:
    target = tmp_path / "grille.md"
    target.write_text("ancienne version", encoding="utf-8")
    code, _, _ = run("referentials", "export", "inconnu", "-o", str(target))
    assert code == 1
    assert target.read_text(encoding="utf-8") == "ancienne version"
    assert list(tmp_path.iterdir()) == [target]


def test_committed_json_schema_is_up_to_date() -> None:
    committed = json.loads((ROOT / "docs" / "referential.schema.json").read_text(encoding="utf-8"))
    assert committed == referential_schema(), "run: assessor referentials schema -o docs/referential.schema.json"


def test_installed_console_script_help() -> None:
    exe = shutil.which("assessor") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "assessor")
    result = subprocess.run([exe, "referentials", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("list", "show", "validate", "export", "schema"):
        assert command in result.stdout
