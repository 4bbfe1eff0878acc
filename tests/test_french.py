"""What people read is French (issue 14, point 2).

``english`` finds what only English writes: its function words, the words of Click's and
typer's own messages (« Usage: », « Show this message and exit. », « Missing argument »…) and
typer's type names (``<str>``, ``list[Path]``). Codes that people type or read as codes (the
values « trainer » or « fused », the command names, the options) are not English sentences and
are left out. Every source of text a user reads is scanned: the help of every command, the
usage errors, the questions, the label catalogues, the messages of the errors shown to users,
the prompt templates, the reports and the exported grids.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assessor.cli import app, french
from assessor.cli.french import ask_password, confirm, french_typer
from assessor.report import ReportFormat, render
from assessor.results import Flag, Report
from assessor.review.exports import ExportFormat, export_review
from assessor.timefmt import local_date, local_time

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "assessor"

ENGLISH_WORDS = re.compile(
    r"\b(?:the|and|of|to|is|are|was|were|be|with|without|for|from|this|that|these|which|you|your|please|should"
    r"|must|cannot|could|would|will|does|did|not|only|when|then|there|their|has|have|into|such|by|error|errors"
    r"|missing|invalid|show|exit|try|help|required|default|commands?|aborted|unexpected|mean|choose|value|values"
    r"|repeat|enter|entered|match|completion)\b",
    re.IGNORECASE,
)
ENGLISH_MARKS = ("Usage:", "<str>", "<int", "<float", "<path>", "<bool>", "list[", "Path]", "env var")


def english(text: str, *, codes: frozenset[str] = frozenset()) -> list[str]:
    """The English in ``text``; option names (``--help``) and the given ``codes`` are left out."""
    text = re.sub(r"(?<![\w-])--?[A-Za-z][\w-]*", " ", text)
    if codes:
        text = re.sub(r"(?<![\w-])(?:" + "|".join(map(re.escape, codes)) + r")(?![\w-])", " ", text)
    return ENGLISH_WORDS.findall(text) + [mark for mark in ENGLISH_MARKS if mark in text]


def test_the_detector_finds_typers_english() -> None:
    assert english("Usage: assessor [OPTIONS] COMMAND [ARGS]...")
    assert english("│ --help  <bool>  Show this message and exit. │")
    assert english("Missing argument 'FILES...'.")
    assert english("Modèle : evidence-only") == ["only"]
    assert not english("Pour l'aide : assessor assess --help. Valeur refusée pour --mode : choix possibles.")


# --- The command line ----------------------------------------------------------------------

runner = CliRunner()


def command_paths() -> Iterator[list[str]]:
    """Every command and sub-command of ``assessor``."""
    root = typer.main.get_command(app)
    yield []
    for name in root.list_commands(None):  # type: ignore[attr-defined]
        yield [name]
        command = root.get_command(None, name)  # type: ignore[attr-defined]
        for sub in getattr(command, "commands", {}):
            yield [name, sub]


COMMAND_NAMES = frozenset(part for path in command_paths() for part in path)


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda path: " ".join(path) or "assessor")
def test_every_help_page_is_french(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Utilisation : assessor" in result.output and "Affiche cette aide et quitte." in result.output
    assert english(result.output, codes=COMMAND_NAMES) == [], result.output


USAGE_ERRORS = {
    "unknown option": (["assess", "--bogus"], "option inconnue : --bogus"),
    "missing argument": (["referentials", "show"], "argument manquant : ID"),
    "missing option": (["review", "decide-block", "R1", "B1", "--as", "jury"], "option manquante : --verdict"),
    "bad choice": (["assess", "f.pdf", "--mode", "examinateur"], "« examinateur » n'est pas l'un des choix"),
    "not a number": (["search", "-k", "beaucoup"], "« beaucoup » n'est pas un nombre entier"),
    "out of range": (["assess", "--concurrency", "0"], "la valeur doit être au moins 1"),
    "option without value": (["search", "-k"], "l'option -k attend une valeur"),
    "unknown command": (["referentiels"], "commande inconnue : « referentiels ». Vouliez-vous dire : referentials"),
    "extra argument": (["referentials", "list", "en-trop"], "de trop sur la ligne de commande : en-trop"),
    "missing command": (["--data-dir", "x"], "commande manquante"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS), ids=str)
def test_usage_errors_are_french(case: str) -> None:
    args, expected = USAGE_ERRORS[case]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split()), result.output
    assert "Erreur" in result.output
    assert english(result.output, codes=COMMAND_NAMES) == [], result.output


def test_the_installed_command_speaks_french() -> None:
    """Through the console script's entry point, in a fresh process: help, then a usage error."""
    command = [sys.executable, "-c", "import sys; sys.argv[0] = 'assessor'; from assessor.cli import main; main()"]
    shown = subprocess.run([*command, "assess", "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "Utilisation : assessor assess" in shown.stdout
    assert english(shown.stdout, codes=COMMAND_NAMES) == []
    refused = subprocess.run([*command, "assess", "--bogus"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "option inconnue : --bogus" in refused.stderr
    assert english(refused.stderr, codes=COMMAND_NAMES) == []


def test_a_password_asked_with_no_terminal_says_how_to_give_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script (no terminal, nothing piped) gets a French way out, not Python's « Password input may be echoed »."""
    from assessor.cli import app

    monkeypatch.delenv("ASSESSOR_PASSWORD", raising=False)
    base = ["--data-dir", str(tmp_path / "data")]
    no_account = runner.invoke(app, [*base, "review", "list", "--as", "marie"], input="")
    assert no_account.exit_code == 1 and "aucun compte" in " ".join(no_account.stderr.split())
    add = [*base, "users", "add", "marie", "--role", "jury", "--name", "Marie Curie", "--password-stdin"]
    assert runner.invoke(app, add, input="mot-de-passe-solide\n").exit_code == 0
    result = runner.invoke(app, [*base, "review", "list", "--as", "marie"], input="")
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "pas de terminal pour le demander" in said and "ASSESSOR_PASSWORD" in said
    assert english(said, codes=COMMAND_NAMES) == []
    piped = runner.invoke(app, [*base, "review", "list", "--as", "marie"], input="mot-de-passe-solide\n")
    assert piped.exit_code == 0, piped.output


def _questions() -> typer.Typer:
    questions = typer.Typer(add_completion=False)

    @questions.command()
    def ask(password: bool = False) -> None:
        typer.echo(ask_password("Mot de passe", twice=True) if password else confirm("Continuer ?"))

    return french_typer(questions)


def test_questions_are_asked_and_answered_in_french() -> None:
    result = runner.invoke(_questions(), [], input="peut-être\no\n")
    assert result.exit_code == 0
    assert "Continuer ? [o/N]" in result.output and "Répondez « o » (oui) ou « n » (non)." in result.output
    assert result.output.strip().endswith("True")
    assert runner.invoke(_questions(), [], input="\n").output.strip().endswith("False")

    with pytest.MonkeyPatch.context() as patch:  # typed at a terminal: asked twice, until both agree
        patch.setattr(french, "on_a_terminal", lambda: True)
        result = runner.invoke(_questions(), ["--password"], input="premier-essai\nautre-chose\nbon-mot\nbon-mot\n")
    assert result.exit_code == 0 and "Les deux saisies diffèrent ; recommencez." in result.output
    assert result.output.strip().endswith("bon-mot") and "premier-essai" not in result.output
    piped = runner.invoke(_questions(), ["--password"], input="par-un-script\n")  # no terminal: the first line
    assert piped.exit_code == 0 and piped.output.strip() == "par-un-script"

    result = runner.invoke(_questions(), [], input="")  # end of input: the question is abandoned
    assert result.exit_code == 1 and "Abandon." in result.output
    assert english(result.output) == []


# --- Catalogues, messages and templates ----------------------------------------------------


def _strings(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_label_catalogues_are_french() -> None:
    """Every module-level table of labels (``*_LABELS``, ``*_TEXTS``): its values, not its codes."""
    found: dict[str, list[str]] = {}
    for path, tree in _modules():
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            name = getattr(target, "id", "")
            value = getattr(node, "value", None)
            if not name.endswith(("_LABELS", "_TEXTS")) or not isinstance(value, ast.Dict):
                continue
            texts = [text for item in value.values if item is not None for text in _strings(item)]
            found[f"{path.name}:{name}"] = [t for t in texts if english(t)]
    assert {"vocabulary.py:FLAG_LABELS", "vocabulary.py:AUDIT_ACTION_LABELS", "french.py:HELP_TEXTS"} <= set(found)
    assert {table: texts for table, texts in found.items() if texts} == {}


USER_ERRORS = {
    "AssessorError",
    "ContractError",
    "NewerContract",
    "SettingsError",
    "UnknownName",
    "RayUnavailable",
    "RunLocked",
    "ImportFailure",
    "YamlLimitError",
    "LocalModelError",
    "ReferentialNotFound",
    "ModelFailure",
    "BatchRequestError",
    "AppError",
    "AuthError",
    "BatchError",
    "ConflictError",
    "DatasetError",
    "DossierError",
    "EmbeddingError",
    "EvaluationError",
    "IndexError_",
    "IngestError",
    "InvalidDecision",
    "LLMError",
    "ManifestError",
    "NotFound",
    "PermissionDenied",
    "PromptError",
    "ReadOnlyReview",
    "ReferentialError",
    "ReviewError",
    "RunError",
    "UsageError",
}
"""The errors whose message is shown to the user as it is (by ``cli.common``, the app, the batch): every
``AssessorError`` (``tests/test_errors.py`` checks that none is missing), and click's ``UsageError``."""


def test_messages_shown_to_users_are_french() -> None:
    """The messages of the errors shown as they are, and what the commands print (``fail``, ``print``)."""
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                call: ast.Call | None = node.exc
                name = getattr(call.func, "id", getattr(call.func, "attr", ""))
                if name not in USER_ERRORS:
                    continue
            elif isinstance(node, ast.Call) and "cli" in path.parts:
                call = node
                if getattr(call.func, "id", getattr(call.func, "attr", "")) not in ("fail", "print", "echo"):
                    continue
            else:
                continue
            text = " ".join(s for argument in call.args for s in _strings(argument))
            if english(text, codes=COMMAND_NAMES):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {text[:80]}")
    assert found == []


def test_counts_agree_with_their_number_instead_of_writing_s_in_brackets() -> None:
    """« 3 dossiers », « 1 dossier », never « dossier(s) »: every string of the package but the
    docstrings (``wording.counted`` and ``wording.listed`` make the agreement)."""
    bracketed = re.compile(r"[^\W\d_]\(s\)")
    found = []
    for path, tree in _modules():
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and id(node) not in docstrings else None
            if isinstance(text, str) and bracketed.search(text):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {text[:80]}")
    assert found == []


def test_prompt_templates_are_french() -> None:
    """The consignes sent to the model, and shown in the app: Jinja tags and JSON codes left out."""
    for path in sorted((ROOT / "prompts").glob("*.j2")):
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        text = re.sub(r'"[^"\s]*"|«\s*[^\s»]+\s*»', " ", text)  # JSON keys and codes: "chunk_id", « missing »
        assert english(text) == [], path.name


# --- Reports, grids and dates --------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    from reviewdata import evidence_report

    return evidence_report(tmp_path_factory.mktemp("french-data"))


def _document_text(data: bytes, suffix: str) -> str:
    if suffix == "pdf":
        import pypdf

        return " ".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    import docx

    document = docx.Document(io.BytesIO(data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return " ".join([*(p.text for p in document.paragraphs), *cells])


def test_reports_and_grids_are_french(report: Report) -> None:
    """The report in every format the command line writes, and the jury's grid as PDF and DOCX."""
    from assessor.report_documents import report_csv, report_docx, report_pdf
    from reviewdata import referential
    from test_exports import make_state

    texts = {f"rapport.{fmt}": render(report, fmt) for fmt in (ReportFormat.MD, ReportFormat.HTML)}
    texts["rapport.pdf"] = _document_text(report_pdf(report), "pdf")
    texts["rapport.docx"] = _document_text(report_docx(report), "docx")
    texts["rapport.csv"] = report_csv(report).decode("utf-8-sig")
    state = make_state(report, signed=True)
    for fmt in (ExportFormat.PDF, ExportFormat.DOCX):
        texts[f"grille.{fmt}"] = _document_text(export_review(state, referential(), fmt), fmt.value)
    assert {name: english(text) for name, text in texts.items() if english(text)} == {}
    assert "repérage sans IA" in texts["rapport.md"] and "evidence-only" not in texts["rapport.md"]


def test_the_command_line_summary_names_alerts_not_codes(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    from assessor.cli import assess, common

    monkeypatch.setattr(common.console, "width", 250)
    flagged = report.model_copy(deep=True)
    flagged.criteria[0].flags = [Flag.UNVERIFIED_CITATION, Flag.OCR_PAGE]
    with common.console.capture() as captured:
        assess._print_summary(flagged)
    shown = captured.get()
    assert "citation non vérifiée" in shown and "page lue par OCR" in shown
    assert Flag.UNVERIFIED_CITATION.value not in shown and Flag.OCR_PAGE.value not in shown


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Paris time for the test (the machine runs in UTC)."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("paris")
def test_dates_are_local_time_with_their_offset() -> None:
    moment = datetime(2026, 3, 5, 14, 5, 9, tzinfo=UTC)
    assert local_time(moment) == "05/03/2026 15:05 UTC+01:00"
    assert local_time(moment.replace(tzinfo=None)) == "05/03/2026 15:05 UTC+01:00"  # naive: taken as UTC
    assert local_time(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), seconds=True) == "02/07/2026 00:30:00 UTC+02:00"
    assert local_time(moment, zone=False) == "05/03/2026 15:05" and local_date(moment) == "05/03/2026"
    assert local_time(None) == ""


@pytest.mark.usefixtures("paris")
def test_a_signed_grid_and_the_report_show_local_time(report: Report) -> None:
    from reviewdata import referential
    from test_exports import T1, make_state

    signed = make_state(report, signed=True)
    for fmt in (ExportFormat.PDF, ExportFormat.DOCX):
        text = " ".join(_document_text(export_review(signed, referential(), fmt), fmt.value).split())
        assert f"le {local_time(T1)}" in text and "15:05 UTC+01:00" in text, fmt
    assert f"Produit le {local_time(report.created_at)}" in render(report, ReportFormat.MD)
