"""``assessor review``: the scriptable review for administrators and auditors (issue 11, point 4).

Through the real command (typer's runner), on a real data folder: accounts, SQLite database,
audit key, a real machine report of the omnicanal sample dossier. Every refusal is French,
exit code 1, and no traceback.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from assessor.cli import app
from assessor.results import Report
from assessor.review.auth import UsersFile
from reviewdata import evidence_report, model_report

PASSWORD = "mot-de-passe-jury-1"
COMMANDS = ("import", "decide", "decide-block", "sign", "export", "verify")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("cli-review-reports")
    return {"model": model_report(folder), "evidence": evidence_report(folder)}


@pytest.fixture
def data(tmp_path: Path, reports: dict[str, Report]) -> Path:
    folder = tmp_path / "data"
    users = UsersFile(folder / "users.yaml")
    users.add("jmartin", "Jeanne Martin", "jury", PASSWORD)
    users.add("pdurand", "Paul Durand", "jury", PASSWORD)
    users.add("admin", "Admin Istrateur", "admin", PASSWORD)
    for kind, report in reports.items():
        (tmp_path / f"{kind}.json").write_text(report.model_dump_json(), encoding="utf-8")
    return folder


def run(data: Path, *args: str, password: str = PASSWORD, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(
        app, ["--data-dir", str(data), "review", *args], env={"ASSESSOR_PASSWORD": password}, input=stdin
    )
    assert "Traceback" not in result.output
    return result


def err(result: Result) -> str:
    return " ".join(result.stderr.split())


def imported(data: Path, kind: str = "model", user: str = "jmartin") -> str:
    result = run(data, "import", str(data.parent / f"{kind}.json"), "--as", user, "--candidate", "Candidat 042")
    assert result.exit_code == 0, result.output
    review_id = result.stdout.strip().splitlines()[-1]  # the id is the last line
    assert len(review_id) == 12
    return review_id


def test_help_names_exactly_the_commands() -> None:
    result = CliRunner().invoke(app, ["review", "--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
    for command in COMMANDS[1:5]:
        assert "--as" in CliRunner().invoke(app, ["review", command, "--help"]).stdout


def test_the_whole_review_from_the_command_line(data: Path, reports: dict[str, Report], tmp_path: Path) -> None:
    review = imported(data)
    criteria = [c.criterion_id for c in reports["model"].criteria]

    result = run(data, "sign", review, "--as", "jmartin", "--name", "Jeanne Martin")
    assert result.exit_code == 1 and "statuez sur chaque bloc" in err(result)
    result = run(data, "decide-block", review, "B1", "--as", "jmartin", "--verdict", "valide", "--reason", "Complet.")
    assert result.exit_code == 1 and f"{len(criteria)} critères sans décision du jury" in err(result)

    result = run(data, "decide", review, criteria[0], "--as", "jmartin", "--outcome", "non_acquis")
    assert result.exit_code == 1 and "motif" in err(result)
    result = run(
        data, "decide", review, criteria[0].split("/", 2)[2], "--as", "jmartin",
        "--outcome", "non_acquis", "--reason", "Citation hors sujet.",
    )  # fmt: skip
    assert result.exit_code == 0 and "décision modifiée — Non acquis" in result.stdout
    result = run(data, "decide", review, criteria[1], "--as", "pdurand", "--accept")
    assert result.exit_code == 1 and "pas accès" in err(result)  # not assigned to this review
    result = run(data, "accept-remaining", review, "B1", "--as", "jmartin", stdin="n\n")
    assert result.exit_code == 1 and "rien n'a été accepté" in err(result)
    result = run(data, "accept-remaining", review, "B1", "--as", "jmartin", "--yes")
    assert result.exit_code == 0 and f"{len(criteria) - 1} propositions acceptées dans le bloc B1" in result.stdout
    result = run(data, "decide-block", review, "B1", "--as", "jmartin", "--verdict", "non_valide", "--reason", "C1.")
    assert result.exit_code == 0 and "Bloc B1 : non validé" in result.stdout
    result = run(data, "sign", review, "--as", "jmartin", "--name", "Jeanne Martin")
    assert result.exit_code == 0 and "signée par Jeanne Martin" in result.stdout
    result = run(data, "decide", review, criteria[1], "--as", "jmartin", "--outcome", "non_acquis", "--reason", "x")
    assert result.exit_code == 1 and "signée" in err(result)

    shown = json.loads(run(data, "show", review, "--as", "jmartin", "--json").stdout)
    assert shown["review"]["status"] == "signee"
    assert {c["criterion_id"]: c["outcome"] for c in shown["criteria"]}[criteria[0]] == "non_acquis"

    grids = {}
    for suffix in ("pdf", "docx", "csv", "json"):
        grids[suffix] = tmp_path / f"grille.{suffix}"
        result = run(data, "export", review, "--as", "jmartin", "-o", str(grids[suffix]))
        assert result.exit_code == 0 and grids[suffix].stat().st_size > 0
    assert grids["pdf"].read_bytes().startswith(b"%PDF")
    result = run(data, "export", review, "--as", "jmartin", "-o", str(tmp_path / "grille.txt"))
    assert result.exit_code == 1 and "format de sortie inconnu" in err(result)
    assert not (tmp_path / "grille.txt").exists()

    result = run(data, "verify")
    assert result.exit_code == 0 and "Journal d'audit intact" in result.stdout
    for grid in grids.values():
        result = run(data, "verify", "--against", str(grid))
        assert result.exit_code == 0 and "scellée à l'entrée" in " ".join(result.stdout.split()), grid

    # Behind the tool's back: the signature and the last entries go, the version is put back.
    connection = sqlite3.connect(data / "assessor.db")
    with connection:
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            connection.execute(f"DROP TRIGGER {name}")
        sealed = connection.execute("SELECT audit_id FROM signatures").fetchone()[0]
        connection.execute("DELETE FROM audit_log WHERE id >= ?", (sealed,))
        connection.execute("DELETE FROM signatures")
        connection.execute("UPDATE reviews SET version = version - 1")
    connection.close()
    assert run(data, "verify").exit_code == 0  # a clean cut: only the signed grid can tell
    result = run(data, "verify", "--against", str(grids["json"]))
    assert result.exit_code == 1
    assert "la fin du journal a été supprimée" in err(result) and "n'a plus cette signature" in err(result)
    result = run(data, "verify", "--against", str(grids["pdf"]))
    assert result.exit_code == 1 and "a disparu" in err(result)


def test_refusals_are_french_with_exit_code_1(data: Path, tmp_path: Path) -> None:
    review = imported(data, "evidence")
    result = run(data, "list", "--as", "jmartin", password="faux")
    assert result.exit_code == 1 and "identifiant ou mot de passe incorrect" in err(result)
    result = run(data, "decide", "inconnue", "C.1.1/1", "--as", "jmartin", "--accept")
    assert result.exit_code == 1 and "Aucune revue « inconnue »" in err(result)
    result = run(data, "decide", review, "Z.9/9", "--as", "jmartin", "--accept")
    assert result.exit_code == 1 and "ne fait pas partie de la revue" in err(result)
    result = run(data, "decide", review, "C.1.1/1", "--as", "jmartin", "--accept")
    assert result.exit_code == 1 and "n'est pas une décision" in err(result)  # « à examiner »: no accepting
    result = run(data, "decide", review, "C.1.1/1", "--as", "admin", "--outcome", "acquis", "--reason", "x")
    assert result.exit_code == 1 and "administrateur" in err(result)
    result = run(data, "decide-block", review, "B1", "--as", "jmartin", "--verdict", "peut-etre", "--reason", "x")
    assert result.exit_code == 2  # a wrong command line
    not_a_report = tmp_path / "autre.json"
    not_a_report.write_text('{"bonjour": 1}', encoding="utf-8")
    result = run(data, "import", str(not_a_report), "--as", "jmartin")
    assert result.exit_code == 1 and "n'est pas un rapport JSON d'Assessor" in err(result)
    result = run(data, "verify", "--against", str(not_a_report))
    assert result.exit_code == 1 and "autre.json : ce fichier JSON n'est pas une grille exportée" in err(result)
    connection = sqlite3.connect(data / "assessor.db")
    log = connection.execute("SELECT actor, action FROM audit_log").fetchall()
    connection.close()
    assert ("inconnu:jmartin", "login_failed") in log and ("jmartin", "login") in log  # like the app's logins


def test_a_batch_run_is_imported_as_one_review_per_dossier_once(
    data: Path, tmp_path: Path, reports: dict[str, Report]
) -> None:
    run_dir = tmp_path / "lancement"
    run_dir.mkdir()
    lines = [
        {"dossier_key": "d1", "candidate_id": "Candidat 001", "report": json.loads(reports["model"].model_dump_json())},
        {"dossier_key": "d2", "candidate_id": None, "report": json.loads(reports["evidence"].model_dump_json())},
    ]
    (run_dir / "results.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    first = run(data, "import-run", str(run_dir), "--as", "jmartin", "--jury", "pdurand")
    assert first.exit_code == 0, first.output
    assert "2 revues créées, 0 déjà importée sur 2 dossiers évalués" in err(first)
    created = dict(line.split("\t") for line in first.stdout.strip().splitlines())
    assert sorted(created.values()) == ["Candidat 001", "d2"]
    for review_id in created:  # the jury member named sees them
        assert run(data, "show", review_id, "--as", "pdurand").exit_code == 0
    again = run(data, "import-run", str(run_dir), "--as", "jmartin")
    assert again.exit_code == 0 and "0 revue créée, 2 déjà importées" in err(again)
    missing = run(data, "import-run", str(tmp_path / "absent"), "--as", "jmartin")
    assert missing.exit_code == 1 and "introuvable" in err(missing)
