"""The command line starts without the pipeline's heavy libraries (issue 14: seconds per command).

Each check runs in a fresh interpreter, where ``sys.modules`` shows what a command really
imported. The times themselves are measured by ``benchmarks/startup.py``, not asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

# Libraries that cost from a tenth of a second to several seconds to import, and that only some
# commands need once they work: language models, the index, numerics, PDF, the review app…
HEAVY = (
    "langchain_core",
    "langchain_openai",
    "langchain_mistralai",
    "langchain_anthropic",
    "langchain_ollama",
    "langsmith",
    "openai",
    "httpx",
    "jinja2",
    "chromadb",
    "sentence_transformers",
    "torch",
    "bm25s",
    "numpy",
    "scipy",
    "sklearn",
    "pandas",
    "matplotlib",
    "pypdf",
    "pypdfium2",
    "PIL",
    "docx",
    "reportlab",
    "gradio",
    "sqlalchemy",
    "alembic",
)

PROBE = """
import json, sys
sys.argv = ["assessor", *json.loads(sys.argv[1])]
if sys.argv[1:] == ["<import>"]:
    import assessor.cli
else:
    from assessor.cli import main
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def probe(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The top-level packages imported by ``assessor ARGS`` in a fresh interpreter, and its output."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1])), done.stdout


def loaded_after(*args: str, env: dict[str, str] | None = None) -> set[str]:
    return probe(*args, env=env)[0]


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    assert loaded_after("<import>") & set(HEAVY) == set()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["referentials", "list"],
        ["search", "--help"],
        ["search", "-d", "absent", "texte"],
        ["assess", "--help"],
        ["review", "--help"],
        ["eval", "--help"],
    ],
    ids=" ".join,
)
def test_a_command_starts_without_the_heavy_libraries(args: list[str]) -> None:
    assert loaded_after(*args) & set(HEAVY) == set()


def test_every_listed_command_loads_and_shows_its_help() -> None:
    from assessor.cli import _Assessor, app

    runner = CliRunner()
    for name in _Assessor.lazy:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert name in result.output


def test_reading_the_settings_imports_none_of_the_parts_they_configure() -> None:
    """Every command reads the settings: they live in one leaf module, not in chunking, retrieval, ingestion…"""
    probe = "import sys, json; import assessor.settings; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = {name for name in json.loads(done.stdout) if name.startswith("assessor.")}
    leaves = {
        "assessor.settings",
        "assessor.environment",
        "assessor.errors",
        "assessor.defaults",
        "assessor.vocabulary",
    }
    assert "assessor.settings" in loaded and loaded <= leaves, loaded


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["search", "-d", "absent", "texte"]], ids=" ".join)
def test_help_and_a_refused_search_do_not_even_import_pydantic(args: list[str], tmp_path: Path) -> None:
    """typer's own pydantic adapters are skipped for values it would return unchanged, and the
    dossier is looked up in the data folder before the settings models are read."""
    loaded = loaded_after(*args, env={"ASSESSOR_DATA_DIR": str(tmp_path)})
    assert "pydantic" not in loaded and "yaml" not in loaded


def test_the_list_of_referentials_comes_from_the_cache_until_a_file_changes(tmp_path: Path) -> None:
    from assessor.catalogue import shipped_referentials_dir

    folder = tmp_path / "mine"
    folder.mkdir()
    mine = folder / "grands-comptes-bis.yaml"
    original = (shipped_referentials_dir() / "grands-comptes.yaml").read_text(encoding="utf-8")
    mine.write_text(original.replace("id: grands-comptes", "id: grands-comptes-bis", 1), encoding="utf-8")
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "ASSESSOR_DATA_DIR": str(tmp_path / "data"),
        "ASSESSOR_REFERENTIALS_DIRS": json.dumps([str(folder)]),
    }
    first_loaded, first = probe("referentials", "list", "--json", env=env)
    assert "pydantic" in first_loaded  # nothing cached yet: every file is validated
    second_loaded, second = probe("referentials", "list", "--json", env=env)
    assert "pydantic" not in second_loaded and "yaml" not in second_loaded
    assert json.loads(second) == json.loads(first)
    assert json.loads(first)[0]["id"] == "grands-comptes-bis"

    # The file changes (here it breaks): the cache no longer answers, and the list says so.
    mine.write_text(original.replace("id: grands-comptes", "id: Grands Comptes", 1), encoding="utf-8")
    third_loaded, third = probe("referentials", "list", "--json", env=env)
    assert "pydantic" in third_loaded
    assert json.loads(third)[0]["id"] is None and json.loads(third)[0]["errors"]
    # A removed file leaves the list too.
    shutil.rmtree(folder)
    assert "grands-comptes-bis" not in probe("referentials", "list", "--json", env=env)[1]


LEAVES = [
    "errors", "vocabulary", "settings", "environment", "defaults", "datafolder",
    "catalogue", "logs", "timefmt", "atomic", "wording", "safe_yaml",
]  # fmt: skip


@pytest.mark.parametrize("leaf", LEAVES)
def test_a_leaf_module_imports_no_other_part_of_the_package(leaf: str) -> None:
    """docs/architecture.md: the leaves (settings, errors, vocabulary…) can be imported by any command
    at start-up, because they bring nothing of the pipeline with them."""
    probe = f"import sys, json; import assessor.{leaf}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    parts = {name for name in json.loads(done.stdout) if name.startswith("assessor.")}
    assert parts <= {f"assessor.{name}" for name in LEAVES}, parts


def test_the_review_database_opens_without_alembic_once_it_is_up_to_date(tmp_path: Path) -> None:
    """The app opens the review database at every start: Alembic (0.2 s) is imported only to migrate."""
    url = f"sqlite:///{tmp_path / 'assessor.db'}"
    probe = (
        "import sys; from assessor.review.store import ReviewStore; "
        f"ReviewStore({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")  # created, then only opened
