"""The command line starts without the pipeline's heavy libraries (issue 14: seconds per command).

Each check runs in a fresh interpreter, where ``sys.modules`` shows what a command really
imported. The times themselves are measured by ``benchmarks/startup.py``, not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

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


def loaded_after(*args: str) -> set[str]:
    """The top-level packages imported by ``assessor ARGS`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True, check=False
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


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
    assert loaded == {"assessor.settings"}, loaded
