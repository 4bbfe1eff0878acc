"""``-o FILE``: the extension chooses the format; an unknown one is refused before any work (issue 14, point 3).

The report's PDF is a real PDF (read back with pypdf, its first page rendered by pdftoppm when
the machine has it), its DOCX a real Word document, its CSV one row per criterion.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import docx
import pypdf
import pytest
from typer.testing import CliRunner

from assessor.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dossiers" / "grands-comptes-b1" / "dossier.pdf"
runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder where the sample dossier is ingested once (dossier « gc »)."""
    folder = tmp_path_factory.mktemp("output-data")
    result = runner.invoke(app, ["--data-dir", str(folder), "ingest", str(SAMPLE), "-d", "gc"])
    assert result.exit_code == 0, result.output
    return folder


def assess(data_dir: Path, *options: str) -> tuple[int, str]:
    args = ["--data-dir", str(data_dir), "assess", "-d", "gc", "-r", "grands-comptes", "-b", "B1", *options]
    result = runner.invoke(app, args, env={"COLUMNS": "250"})
    return result.exit_code, flat(result.output)


def test_a_pdf_report_is_a_pdf(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "rapport.pdf"
    code, output = assess(data_dir, "-o", str(target))
    assert code == 0, output
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = flat(" ".join(page.extract_text() for page in reader.pages))
    assert text.startswith("Pré-lecture du dossier gc")
    assert "grands-comptes/B1/C1/1" in text and "repérage sans IA" in text and "Bloc B1" in text
    assert reader.metadata is not None and reader.metadata.title == "Pré-lecture du dossier gc"
    if shutil.which("pdftoppm"):
        page = subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(target)], capture_output=True, check=True
        ).stdout
        assert page.startswith(b"\x89PNG")


def test_docx_csv_html_json_and_markdown_follow_the_extension(data_dir: Path, tmp_path: Path) -> None:
    for suffix in ("docx", "csv", "html", "json", "md"):
        code, output = assess(data_dir, "-o", str(tmp_path / f"rapport.{suffix}"))
        assert code == 0, (suffix, output)
    document = docx.Document(str(tmp_path / "rapport.docx"))
    assert document.paragraphs[0].text == "Pré-lecture du dossier gc"
    assert document.core_properties.language == "fr-FR" and len(document.tables) == 1
    criteria = json.loads((tmp_path / "rapport.json").read_text(encoding="utf-8"))["criteria"]
    raw = (tmp_path / "rapport.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert [row["critère"] for row in rows] == [c["criterion_id"] for c in criteria]
    assert {row["statut"] for row in rows} <= {"proposition", "à revoir", "non évalué"}
    assert (tmp_path / "rapport.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (tmp_path / "rapport.md").read_text(encoding="utf-8").startswith("# Pré-lecture du dossier gc")


def test_an_unknown_extension_is_refused_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "assess", str(SAMPLE), "-r", "grands-comptes", "-o", str(tmp_path / "r.txt")]
    result = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "format de sortie inconnu" in flat(result.stderr)
    assert ".json, .md, .html, .pdf, .docx ou .csv" in flat(result.stderr)
    assert not data.exists() and not (tmp_path / "r.txt").exists()  # nothing ingested, nothing written

    result = runner.invoke(app, [*args[:-1], str(tmp_path / "rapport")], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "sans extension" in flat(result.stderr)


def test_format_and_extension_must_agree(tmp_path: Path) -> None:
    args = ["assess", str(SAMPLE), "-r", "grands-comptes", "-o", str(tmp_path / "r.pdf"), "--format", "md"]
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "--format md contredit l'extension de r.pdf" in flat(result.stderr)


@pytest.mark.parametrize(
    ("command", "accepted"),
    [
        (["report-schema"], ".json."),
        (["referentials", "schema"], ".json."),
        (["referentials", "export", "grands-comptes"], ".json, .csv ou .md."),
        (["eval", "import", str(ROOT / "README.md")], ".jsonl."),
    ],
    ids=" ".join,
)
def test_every_output_option_refuses_an_unknown_extension(command: list[str], accepted: str, tmp_path: Path) -> None:
    target = tmp_path / "sortie.pdf"
    result = runner.invoke(app, [*command, "-o", str(target)], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "format de sortie inconnu" in flat(result.stderr) and flat(result.stderr).endswith(accepted)
    assert not target.exists()


def test_the_grid_export_takes_its_format_from_the_extension(tmp_path: Path) -> None:
    target = tmp_path / "grille.csv"
    result = runner.invoke(app, ["referentials", "export", "grands-comptes", "-b", "B1", "-o", str(target)])
    assert result.exit_code == 0, result.output
    header = target.read_text(encoding="utf-8-sig").splitlines()[0]
    assert ";" in header and not header.startswith("|")
