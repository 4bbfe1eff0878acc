"""One error root, settings read from the environment, and what a bug looks like to a user."""

from __future__ import annotations

import ast
import json
import logging
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assessor.cli import app
from assessor.environment import read_environment
from assessor.errors import AssessorError, SettingsError, UnknownName
from assessor.logs import JsonFormatter, bug_file
from assessor.settings import LLMSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "assessor"
runner = CliRunner()

# Exceptions that are not failures a user meets: control flow between two parts of the code.
INTERNAL = {"DeferredCall", "PromptVariablesError"}


def _exception_classes() -> dict[str, tuple[Path, list[str]]]:
    found: dict[str, tuple[Path, list[str]]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                if re.search(
                    r"(Error|Failure|Exception|Locked|Unavailable|NotFound|Denied|Review)\b",
                    " ".join([node.name, *bases]),
                ):
                    found[node.name] = (path, bases)
    return found


def _imported(name: str, path: Path) -> object:
    """The class ``name`` as its module defines it (importing the module)."""
    import importlib

    dotted = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
    return getattr(importlib.import_module(f"assessor.{dotted}"), name)


def test_every_failure_class_of_the_package_derives_from_the_one_root() -> None:
    classes = _exception_classes()
    assert len(classes) > 20  # the scan sees the package's errors
    outside = []
    for name, (path, _) in classes.items():
        cls = _imported(name, path)
        if isinstance(cls, type) and issubclass(cls, BaseException) and not issubclass(cls, AssessorError):
            outside.append(f"{path.relative_to(ROOT)}: {name}")
    assert not outside, "errors outside AssessorError: " + ", ".join(outside)


def test_the_french_check_reads_the_message_of_every_error_of_the_root() -> None:
    from test_french import USER_ERRORS

    family = {name for name in _exception_classes() if name not in INTERNAL}
    assert family <= USER_ERRORS, f"add to test_french.USER_ERRORS: {sorted(family - USER_ERRORS)}"


def test_each_error_has_a_stable_code_of_its_own() -> None:
    codes: dict[str, str] = {}
    for name, (path, _) in _exception_classes().items():
        cls = _imported(name, path)
        if name in INTERNAL or not (isinstance(cls, type) and issubclass(cls, AssessorError)):
            continue
        if "code" in cls.__dict__ and isinstance(cls.__dict__["code"], str):
            code = cls.__dict__["code"]
            assert re.fullmatch(r"[a-z]+(-[a-z]+)*", code), f"{name}: code {code!r}"
            assert code not in codes, f"{name} and {codes.get(code)} share the code {code}"
            codes[code] = name
    assert {"dossier-impossible", "referentiel-introuvable", "reglage-invalide", "conflit"} <= set(codes)


def test_an_unknown_block_is_an_unknown_name_not_a_key_error() -> None:
    from assessor.library import Library, shipped_referentials_dir

    referential = Library([shipped_referentials_dir()]).get("grands-comptes")
    with pytest.raises(UnknownName) as raised:
        referential.block("B9")
    assert not isinstance(raised.value, KeyError)
    assert str(raised.value) == "bloc « B9 » inconnu dans grands-comptes (blocs : B1, B2, B3, B4)"


# -- settings from the environment ----------------------------------------------------------------


def test_the_environment_reaches_nested_settings_lists_in_json_and_code_wins(tmp_path: Path) -> None:
    environ = {
        "ASSESSOR_LLM__MODEL": "compatible:qwen",
        "assessor_llm__temperature": "0.3",  # names are case-insensitive
        "ASSESSOR_REFERENTIALS_DIRS": '["/srv/a", "/srv/b"]',
        "ASSESSOR_NOT_A_SETTING": "ignored",
        "OTHER_VARIABLE": "ignored",
    }
    found = read_environment(Settings, prefix="ASSESSOR_", dotenv=tmp_path / "absent.env", environ=environ)
    assert found == {
        "llm": {"model": "compatible:qwen", "temperature": "0.3"},
        "referentials_dirs": ["/srv/a", "/srv/b"],
    }


def test_the_environment_wins_over_the_dotenv_file_and_values_in_code_win_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "ASSESSOR_DATA_DIR=/from/dotenv\nASSESSOR_LLM__MODEL=from-dotenv\nASSESSOR_APP__PORT=8001\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSESSOR_LLM__MODEL", "from-environment")
    monkeypatch.delenv("ASSESSOR_DATA_DIR", raising=False)
    settings = Settings(llm={"temperature": 0.5})
    assert settings.data_dir == Path("/from/dotenv")
    assert settings.llm.model == "from-environment" and settings.llm.temperature == 0.5  # merged key by key
    assert settings.app.port == 8001
    assert Settings(llm=LLMSettings(model="in-code")).llm.model == "in-code"  # a model replaces the whole part


def test_unusable_settings_are_refused_naming_the_variable_and_what_it_expects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable, value, expected in (
        ("ASSESSOR_APP__PORT", "abc", "ASSESSOR_APP__PORT = 'abc' : un nombre entier est attendu"),
        ("ASSESSOR_APP__PORT", "0", "ASSESSOR_APP__PORT = '0' : au moins 1"),
        ("ASSESSOR_LLM__MODLE", "x", "ASSESSOR_LLM__MODLE = 'x' : ce réglage n'existe pas"),
        ("ASSESSOR_REFERENTIALS_DIRS", "[oops", "ASSESSOR_REFERENTIALS_DIRS : valeur illisible"),
    ):
        monkeypatch.setenv(variable, value)
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "dossiers", "list"])
        monkeypatch.delenv(variable)
        assert result.exit_code == 1, result.output
        assert expected in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.output
    with pytest.raises(SettingsError):
        read_environment(Settings, prefix="ASSESSOR_", environ={"ASSESSOR_REFERENTIALS_DIRS": "/not/json"})


# -- a bug, as the user meets it ------------------------------------------------------------------


def test_a_bug_is_reported_with_a_trace_id_and_its_traceback_in_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assessor.cli.referentials as command

    def broken() -> None:
        raise ZeroDivisionError("division by zero, deep in the code")

    monkeypatch.setattr(command, "library", broken)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the list is read, not answered from a cache
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "referentials", "list"])
    assert result.exit_code == 70
    message = " ".join(result.stderr.split())
    assert "erreur inattendue (ZeroDivisionError)" in message and "Traceback" not in result.output
    trace_id = re.search(r"Numéro de suivi ([0-9a-f]{12})", message)
    assert trace_id, message
    report = bug_file(trace_id.group(1))
    try:
        assert report.stat().st_mode & 0o077 == 0
        text = report.read_text(encoding="utf-8")
        assert trace_id.group(1) in text and "ZeroDivisionError: division by zero, deep in the code" in text
        assert "Traceback" in text
    finally:
        report.unlink()


def test_a_foreseeable_failure_is_one_french_line_with_exit_code_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "search", "-d", "absent", "texte"])
    assert result.exit_code == 1
    assert " ".join(result.stderr.split()) == "Erreur : dossier « absent » introuvable (dossiers : aucun)."


# -- logging --------------------------------------------------------------------------------------


def test_verbose_logs_are_json_lines_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    monkeypatch.setenv("OPENAI_API_KEY", key)
    record = logging.LogRecord(
        "assessor.llm", logging.WARNING, __file__, 1, "provider said %s", (f"bad key {key}",), None
    )
    record.dossier = "2026-durand"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "assessor.llm" and entry["dossier"] == "2026-durand"
    assert key not in line and "[secret masqué]" in entry["event"]

    note = tmp_path / "note.txt"
    note.write_text("Candidate : Camille Durand. J'ai négocié avec un client grand compte.\n" * 20, encoding="utf-8")
    result = runner.invoke(
        app, ["--verbose", "--data-dir", str(tmp_path / "data"), "ingest", "-d", "2026-durand", str(note)]
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    done = [e for e in events if e["event"] == "ingest done"]
    assert done and done[0]["added"] == 1 and done[0]["chunks"] >= 1, result.stderr
    assert all({"time", "level", "logger", "event"} <= set(e) for e in events)
    assert "durand" not in result.stderr.lower() and "note.txt" not in result.stderr  # no names in the log
    assert done[0]["dossier"].startswith("h:")


def test_assessor_error_is_the_french_message() -> None:
    error = AssessorError("dossier « x » introuvable.")
    assert str(error) == "dossier « x » introuvable." and error.code == "erreur"
