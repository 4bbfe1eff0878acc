"""What every command shares: consoles, settings, and turning foreseeable failures into messages.

Start-up time: every command imports this module and ``assessor.cli``, so neither imports the
pipeline's libraries (LangChain, chromadb, SciPy, pandas, gradio…) nor even the settings at
import time: each command imports what it uses when it runs (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, overload

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.progress import Progress

    from assessor.library import Library, Problem
    from assessor.settings import Settings

console = Console()
err_console = Console(stderr=True)

# Options of the root command (--data-dir) that override the environment for this run.
overrides: dict[str, Any] = {}


ReferentialsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--referentials",
        metavar="DOSSIER",
        help="Dossier de référentiels YAML (par exemple des brouillons importés), consulté avant les "
        "référentiels livrés ; répétable. Défaut : ASSESSOR_REFERENTIALS_DIRS.",
    ),
]


def settings() -> Settings:
    from assessor.settings import Settings

    return Settings(**overrides)


def use_referentials(folders: list[Path] | None) -> None:
    """Search these folders first for référentiels, for this run (``--referentials``)."""
    if not folders:
        return
    for folder in folders:
        if not folder.is_dir():
            fail(f"{folder} : dossier de référentiels introuvable (--referentials).")
    overrides["referentials_dirs"] = list(dict.fromkeys([*folders, *settings().referentials_dirs]))


def library() -> Library:
    from assessor.library import Library

    return Library.from_settings(settings())


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error (secrets masked: it may quote a provider's message) and exit with ``code``."""
    from assessor.redaction import redact

    err_console.print(f"[bold red]Erreur :[/] {escape(redact(message))}")
    raise typer.Exit(code)


def print_problems(problems: list[Problem]) -> None:
    from assessor.library import Severity

    for problem in problems:
        colour = "red" if problem.severity is Severity.ERROR else "yellow"
        where = f"{problem.file}:{problem.line}" if problem.line else str(problem.file)
        place = f" [dim]{escape(problem.place)}[/]" if problem.place else ""
        # soft_wrap: a file path is never broken across lines, so it can be copied or clicked.
        err_console.print(f"[{colour}]{problem.severity}[/] {escape(where)}{place}", soft_wrap=True)
        err_console.print(f"    {escape(problem.message)}")


@contextmanager
def refusals(*refused: type[Exception]) -> Iterator[None]:
    """A refused or impossible action (one of ``refused``, or a file error) becomes one French message
    and exit code 1."""
    try:
        yield
    except refused as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or ''} : {exc.strerror or exc}")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn foreseeable failures into one readable message and exit code 1 (never a traceback)."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:
        _explain(exc)
        raise


def _explain(exc: Exception) -> None:
    """Print a foreseeable failure and exit 1; return for anything else (a bug: its traceback helps).

    The error classes are imported here, not at start-up: a module that raised one is loaded."""
    from assessor.dossiers import DossierError
    from assessor.embeddings import EmbeddingError
    from assessor.index import IndexError_
    from assessor.ingest import IngestError
    from assessor.library import ReferentialError, ReferentialNotFound
    from assessor.llm import LLMError
    from assessor.prompts import PromptError

    if isinstance(exc, IngestError):
        code = escape(f"[{exc.code}]")  # square brackets would otherwise be read as a style
        err_console.print(f"[bold red]Erreur[/] {code} {escape(exc.file)} : {escape(exc.message)}")
        err_console.print(f"  → {escape(exc.hint)}")
        err_console.print("Rien n'a été enregistré.")
        raise typer.Exit(1) from exc
    if isinstance(exc, DossierError | EmbeddingError | IndexError_ | LLMError | PromptError | ReferentialNotFound):
        fail(str(exc))
    if isinstance(exc, ReferentialError):
        print_problems(exc.problems)
        fail(f"le référentiel {exc.path} est invalide ; corrigez-le puis relancez « assessor referentials validate ».")
    if isinstance(exc, KeyError):
        fail(str(exc.args[0]) if exc.args else str(exc))
    if isinstance(exc, OSError):
        fail(f"{exc.filename or ''} : {exc.strerror or exc}")


@overload
def output_format(output: Path, accepted: Iterable[str], chosen: str | None = None) -> str: ...
@overload
def output_format(output: Path | None, accepted: Iterable[str], chosen: str | None = None) -> str | None: ...
def output_format(output: Path | None, accepted: Iterable[str], chosen: str | None = None) -> str | None:
    """The format of an output file: its extension (``rapport.pdf`` -> ``pdf``), or ``chosen`` (a
    --format option) when the output is the screen.

    Called before any long work: an extension outside ``accepted`` is refused with a French message
    that lists the accepted ones, and exit code 1; so is a --format that contradicts the extension.
    """
    if output is None:
        return chosen
    formats = [str(name) for name in accepted]
    suffix = output.suffix.lower().removeprefix(".")
    if suffix not in formats:
        given = f"extension « {output.suffix} »" if output.suffix else "sans extension"
        choices = ", ".join(f".{name}" for name in formats[:-1]) + (" ou " if len(formats) > 1 else "")
        fail(f"format de sortie inconnu pour {output} ({given}) : le format suit l'extension, {choices}.{formats[-1]}.")
    if chosen is not None and str(chosen) != suffix:
        fail(f"--format {chosen} contredit l'extension de {output.name} : l'extension suffit, retirez --format.")
    return suffix


def write_output(data: str | bytes, output: Path | None) -> None:
    """Print, or write atomically so that a failure never leaves a half-written file."""
    if output is None:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from assessor.atomic import write_atomic

    write_atomic(output, data)
    err_console.print(f"Écrit : {output}")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def new_progress() -> Progress:
    """The look of every progress display: description, bar, done/total, elapsed time; on stderr, transient."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@contextmanager
def progress_bar(first: str) -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress bar on stderr; yields update(description, done, total)."""
    with new_progress() as bar:
        task = bar.add_task(first, total=None)

        def update(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        yield update
