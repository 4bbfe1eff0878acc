"""What every command shares: consoles, settings, and turning foreseeable failures into messages.

Start-up time: every command imports this module and ``assessor.cli``, so neither imports the
pipeline's libraries (LangChain, chromadb, SciPy, pandas, gradio…) nor even the settings at
import time: each command imports what it uses when it runs (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, overload

import typer
from rich.console import Console
from rich.markup import escape

from assessor.errors import AssessorError, SettingsError

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
    """The settings of this run; a value that cannot be used is refused with the variable to fix."""
    from pydantic import ValidationError

    from assessor.environment import settings_problem
    from assessor.settings import Settings

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(settings_problem(exc, prefix="ASSESSOR_")) from exc


def data_dir() -> Path:
    """The data folder of this run, read without the settings models: for a check made before the
    pipeline is imported (the full settings are still validated when the work starts)."""
    if "data_dir" in overrides:
        return Path(overrides["data_dir"])
    from assessor.defaults import DATA_DIR
    from assessor.environment import variable

    value = variable("ASSESSOR_DATA_DIR")
    return Path(value) if value is not None else DATA_DIR


def referentials_dirs() -> list[Path]:
    """The extra référentiel folders of this run (--referentials, then ASSESSOR_REFERENTIALS_DIRS), read
    without the settings models."""
    if "referentials_dirs" in overrides:
        return [Path(p) for p in overrides["referentials_dirs"]]
    from assessor.environment import json_list, variable

    name = "ASSESSOR_REFERENTIALS_DIRS"
    return [Path(p) for p in json_list(name, variable(name))]


def use_referentials(folders: list[Path] | None) -> None:
    """Search these folders first for référentiels, for this run (``--referentials``)."""
    if not folders:
        return
    for folder in folders:
        if not folder.is_dir():
            fail(f"{folder} : dossier de référentiels introuvable (--referentials).")
    overrides["referentials_dirs"] = list(dict.fromkeys([*folders, *referentials_dirs()]))


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
def handled_errors() -> Iterator[None]:
    """Where every command meets the user: a foreseeable failure (``AssessorError``, a file that cannot
    be read or written) becomes one French message and exit code 1, never a traceback; anything else
    is a bug: a short French message with a trace id, the traceback in the log (``--verbose`` shows
    it), exit code 70. Click's own exits and usage errors pass through."""
    from typer._click import exceptions as click_errors

    try:
        yield
    except (click_errors.ClickException, typer.Exit, typer.Abort):
        raise
    except AssessorError as exc:
        import logging

        logging.getLogger("assessor.cli").info("refused", extra={"code": exc.code})
        _explain(exc)
    except OSError as exc:
        fail(f"{exc.filename or ''} : {exc.strerror or exc}")
    except Exception as exc:
        from assessor.logs import bug_file, log_bug

        trace_id = log_bug(exc)
        fail(
            f"erreur inattendue ({type(exc).__name__}) : c'est un défaut d'Assessor, pas de votre fait. Numéro de "
            f"suivi {trace_id} ; le détail est dans {bug_file(trace_id)}. Signalez-le avec ce fichier.",
            code=70,
        )


def _loaded(module: str, name: str) -> type[Exception] | None:
    """An error class of ``module`` if the module is loaded (if it is not, it raised nothing): explaining
    an error never imports the pipeline."""
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


def _explain(exc: AssessorError) -> NoReturn:
    """Print a foreseeable failure and exit 1; some errors carry more than a sentence."""
    ingest_error = _loaded("assessor.ingest.errors", "IngestError")
    referential_error = _loaded("assessor.library", "ReferentialError")
    if ingest_error is not None and isinstance(exc, ingest_error):
        code = escape(f"[{exc.code}]")  # square brackets would otherwise be read as a style
        err_console.print(f"[bold red]Erreur[/] {code} {escape(exc.file)} : {escape(exc.message)}")  # type: ignore[attr-defined]
        err_console.print(f"  → {escape(exc.hint)}")  # type: ignore[attr-defined]
        err_console.print("Rien n'a été enregistré.")
        raise typer.Exit(1) from exc
    if referential_error is not None and isinstance(exc, referential_error):
        print_problems(exc.problems)  # type: ignore[attr-defined]
        fail(f"le référentiel {exc.path} est invalide ; corrigez-le puis relancez « assessor referentials validate ».")  # type: ignore[attr-defined]
    fail(str(exc))


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
