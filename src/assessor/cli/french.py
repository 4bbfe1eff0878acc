"""The command line's own words in French: help, usage, errors, prompts.

Typer (0.29, which carries its own copy of Click) writes its help and its usage errors in
English: « Usage: », « Show this message and exit. », « Missing argument », « No such option »,
« Invalid value for… », and the messages of pydantic, which converts option values. Every
command is built from :class:`FrenchCommand` or :class:`FrenchGroup` (``assessor.cli.lazy``
builds them so), which:

- set the titles and notes of typer's rich help (its documented module constants) to French
  before the first help or error is shown;
- write « Utilisation : » and « COMMANDE [ARGUMENTS]... » in the usage line, the help of
  ``--help`` and of the completion options in French, and the value types in French
  (« <entier> », « <chemin> »);
- show usage errors in French (:func:`french_message`), rebuilt from the exception's fields
  rather than from its English text;
- and ``confirm`` / ``ask_password`` ask their questions in French (« [o/N] »).
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import Any

import typer
from typer._click import exceptions as click_errors  # typer 0.29 carries its own Click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

from assessor.errors import AssessorError

USAGE = "Utilisation : "
SUBCOMMANDS = "COMMANDE [ARGUMENTS]..."

HELP_TEXTS = {
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Install completion for the current shell.": "Installe la complétion automatique pour le shell utilisé.",
    "Show completion for the current shell, to copy it or customize the installation.": (
        "Affiche le script de complétion automatique du shell utilisé, à copier ou à adapter."
    ),
    "Install completion for the specified shell.": "Installe la complétion automatique pour ce shell.",
    "Show completion for the specified shell, to copy it or customize the installation.": (
        "Affiche le script de complétion automatique de ce shell, à copier ou à adapter."
    ),
}
"""The help of the options typer and Click add by themselves, in French."""

RICH_TEXTS = {
    "DEPRECATED_STRING": "(obsolète) ",
    "DEFAULT_STRING": "[défaut : {}]",
    "ENVVAR_STRING": "[variable d'environnement : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
    "ERRORS_PANEL_TITLE": "Erreur",
    "ABORTED_TEXT": "Abandon.",
    "RICH_HELP": "Pour l'aide : [blue]{command_path} {help_option}[/]",
}
"""typer.rich_utils' fixed strings (module constants meant to be customised), in French."""

TYPE_NAMES = {
    "str": "texte",
    "int": "entier",
    "float": "nombre",
    "bool": "oui|non",
    "path": "chemin",
    "Path": "chemin",
    "file": "fichier",
    "directory": "dossier",
    "datetime": "date",
}


@cache
def rich_utils() -> ModuleType:
    """typer's rich rendering, with its strings in French (imported on the first help or error)."""
    from typer import rich_utils as module

    for name, text in RICH_TEXTS.items():
        setattr(module, name, text)
    return module


def french_type(label: str) -> str:
    """A value type as typer shows it, in French: ``<int range>`` -> ``<entier>``, ``<list[Path]>`` ->
    ``<chemin>…``; a list of choices (``<jury|trainer>``) is left as it is."""
    inner = label.removeprefix("<").removesuffix(">")
    repeated = inner.startswith("list[") and inner.endswith("]")
    if repeated:
        inner = inner[len("list[") : -1]
    inner = inner.removesuffix(" range")
    if "|" not in inner:
        inner = TYPE_NAMES.get(inner, inner)
    return f"<{inner}>" + ("…" if repeated else "")


_PLAIN = (str, int, float)


def _process_directly(param: Any, ctx: Any, value: Any) -> tuple[bool, Any]:
    """typer 0.29 sends every value through a pydantic adapter, built on first use: about 0.1 s of
    imports for a command that only reads a text. Values it would give back unchanged skip it: an
    option not given (None), a text given as text, a number already a number within its bounds.
    Returns (True, value) when done here; anything else (paths, choices, lists, parsers) is left to
    typer, as before."""
    if not _unchanged(param, value):
        return False, value
    if value is None and (param.multiple or param.nargs == -1):
        value = ()
    if param.required and param.value_is_missing(value):
        raise click_errors.MissingParameter(ctx=ctx, param=param)
    if param.callback is not None:
        value = param.callback(ctx, param, value)
    return True, value


_PLAIN = (str, int, float)


def _unchanged(param: Any, value: Any) -> bool:
    if value is None:
        return True
    info = param.type_descriptor.parameter_info
    annotation = param.type_descriptor.annotation
    if info.parser is not None or annotation not in _PLAIN or type(value) is not annotation:
        return False
    if annotation is str:
        return True
    low, high = info.min, info.max
    return (low is None or value >= low) and (high is None or value <= high)


class _FrenchArgument(TyperArgument):
    def process_value(self, ctx: Any, value: Any) -> Any:
        done, value = _process_directly(self, ctx, value)
        return value if done else super().process_value(ctx, value)

    def display_type_rich(self, ctx: Any) -> str | None:
        shown = super().display_type_rich(ctx)
        return french_type(shown) if shown else shown


class _FrenchOption(TyperOption):
    def process_value(self, ctx: Any, value: Any) -> Any:
        done, value = _process_directly(self, ctx, value)
        return value if done else super().process_value(ctx, value)

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return ""  # a flag takes no value: nothing to show
        shown = super().display_type_rich(ctx)
        if not shown or self.metavar is not None:
            return shown
        return french_type(shown.removesuffix("...")) + ("…" if shown.endswith("...") else "")


def _frenchify(params: Sequence[Any]) -> None:
    """French help texts and value types for the parameters typer made (idempotent)."""
    for param in params:
        if param.help in HELP_TEXTS:
            param.help = HELP_TEXTS[param.help]
        # typer builds its parameter objects itself; these subclasses only show the types in French.
        if type(param) is TyperOption:
            param.__class__ = _FrenchOption
        elif type(param) is TyperArgument:
            param.__class__ = _FrenchArgument


class _French:
    """What FrenchCommand and FrenchGroup add to typer's classes."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        _frenchify(params)
        return params

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=USAGE)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        rich_utils()
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command; as a program (``standalone_mode``), show usage errors in French and exit."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        except click_errors.NoArgsIsHelpError as exc:  # the help is already shown
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        except typer.Abort:
            rich_utils().rich_abort_error()
            sys.exit(1)
        # Without standalone_mode, typer returns the exit code of a typer.Exit, or what the command
        # returned (None: every command of Assessor ends by returning None or raising typer.Exit).
        sys.exit(result if isinstance(result, int) else 0)


class FrenchCommand(_French, TyperCommand):
    """A typer command whose help and errors are in French."""


class FrenchGroup(_French, TyperGroup):
    """A typer group whose help and errors are in French."""

    def __init__(self, *, subcommand_metavar: str | None = None, **kwargs: Any) -> None:
        super().__init__(subcommand_metavar=subcommand_metavar or SUBCOMMANDS, **kwargs)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0]
        if self.get_command(ctx, name) is None and not ctx.resilient_parsing and not name.startswith("-"):
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3)
            hint = f" Vouliez-vous dire : {', '.join(close)} ?" if close else ""
            raise click_errors.UsageError(f"commande inconnue : « {name} ».{hint}", ctx)
        return super().resolve_command(ctx, args)


def french_typer(app: typer.Typer) -> typer.Typer:
    """``app`` with its groups and commands built from the French classes (where it sets none)."""
    if isinstance(app.info.cls, DefaultPlaceholder) or app.info.cls in (None, TyperGroup):
        app.info.cls = FrenchGroup
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = FrenchCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            french_typer(group.typer_instance)
    return app


# --- Usage errors ---------------------------------------------------------------------------


def show_error(exc: click_errors.ClickException) -> None:
    """The error as typer shows it (usage line, where to find help, a framed message), in French."""
    french = click_errors.UsageError(french_message(exc), getattr(exc, "ctx", None))
    rich_utils().rich_format_error(french)


def _hint(exc: click_errors.BadParameter) -> str:
    """The parameter concerned: an option's names, an argument's name (its metavar)."""
    if exc.param_hint is not None:
        return exc.param_hint if isinstance(exc.param_hint, str) else " / ".join(exc.param_hint)
    if isinstance(exc.param, TyperOption):
        return " / ".join(exc.param.opts)
    return exc.param.get_error_hint().strip("'") if exc.param is not None else ""


def french_message(exc: click_errors.ClickException) -> str:
    """The French text of a usage error raised by typer or Click."""
    if isinstance(exc, click_errors.MissingParameter):
        param = exc.param
        kind = exc.param_type or (param.param_type_name if param is not None else "parameter")
        what = {"argument": "argument manquant", "option": "option manquante"}.get(kind, "valeur manquante")
        message = f"{what} : {_hint(exc)}"
        choices = _choices(param)
        return message + (f" (choisissez parmi : {', '.join(choices)})" if choices else "") + "."
    if isinstance(exc, click_errors.BadParameter):
        return f"valeur refusée pour {_hint(exc)} : {_reason(exc)}."
    if isinstance(exc, click_errors.NoSuchOption):
        close = ", ".join(sorted(exc.possibilities or ()))
        return f"option inconnue : {exc.option_name}." + (f" Vouliez-vous dire : {close} ?" if close else "")
    if isinstance(exc, click_errors.BadOptionUsage):
        if "does not take a value" in exc.message:
            return f"l'option {exc.option_name} ne prend pas de valeur."
        count = re.search(r"requires (\d+) arguments", exc.message)
        return f"l'option {exc.option_name} attend {count.group(1) + ' valeurs' if count else 'une valeur'}."
    if isinstance(exc, click_errors.FileError):
        return f"impossible d'ouvrir le fichier {exc.ui_filename}."
    for pattern, french in _USAGE_MESSAGES:
        match = pattern.fullmatch(exc.message)
        if match:
            return french.format(*match.groups())
    return exc.message  # one of Assessor's own messages, already French


_USAGE_MESSAGES = [
    (re.compile(r"Got unexpected extra argument\(s\) \((.*)\)"), "de trop sur la ligne de commande : {0}."),
    (re.compile(r"Missing command\."), "commande manquante (voir la liste ci-dessous avec --help)."),
    (re.compile(r"No such command '(.*)'\.(?: Did you mean (.*)\?)?"), "commande inconnue : « {0} »."),
    (re.compile(r"Argument '(.*)' takes (\d+) values\."), "l'argument {0} attend {1} valeurs."),
]


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) or ()
    return [str(getattr(choice, "value", choice)) for choice in choices]


def _reason(exc: click_errors.BadParameter) -> str:
    """Why a value was refused, in French: from pydantic's error (the value's conversion) or typer's."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        first = (errors() or [{}])[0]
        return _pydantic_reason(first.get("type", ""), first.get("input"), first.get("ctx") or {})
    for pattern, french in _VALUE_MESSAGES:
        match = pattern.fullmatch(exc.message)
        if match:
            return french.format(*match.groups())
    return f"« {exc.message} »"


def _pydantic_reason(kind: str, value: Any, context: dict[str, Any]) -> str:
    given = f"« {value} »"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{given} n'est pas un nombre entier"
    if kind in ("float_parsing", "float_type"):
        return f"{given} n'est pas un nombre"
    if kind in ("bool_parsing", "bool_type"):
        return f"{given} n'est ni oui ni non"
    bounds = {
        "greater_than_equal": ("ge", "au moins"),
        "greater_than": ("gt", "plus de"),
        "less_than_equal": ("le", "au plus"),
        "less_than": ("lt", "moins de"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return f"{given} : la valeur doit être {words} {context.get(key)}"
    error = context.get("error")
    choice = re.fullmatch(r"'(.*)' is not one of (.*)\.", str(error) if error is not None else "")
    if choice:
        choices = ", ".join(c.strip().strip("'") for c in choice.group(2).split(","))
        return f"« {choice.group(1)} » n'est pas l'un des choix possibles : {choices}"
    return f"{given} ne convient pas"


_VALUE_MESSAGES = [
    (re.compile(r"(?:File|Directory|Path) (.*) does not exist\."), "{0} n'existe pas"),
    (re.compile(r"(?:File|Directory|Path) (.*) is a file\."), "{0} est un fichier (un dossier est attendu)"),
    (re.compile(r"(?:File|Directory|Path) (.*) is a directory\."), "{0} est un dossier (un fichier est attendu)"),
    (re.compile(r"(?:File|Directory|Path) (.*) is not readable\."), "{0} n'est pas lisible"),
    (re.compile(r"(?:File|Directory|Path) (.*) is not writable\."), "{0} n'est pas modifiable"),
    (re.compile(r"Value (.*) is not a valid (.*)\."), "{0} ne convient pas"),
    (re.compile(r"Value must be an iterable\."), "plusieurs valeurs sont attendues"),
    (re.compile(r"'(.*)': (.*)"), "{0} : fichier inaccessible"),
]


# --- Questions ------------------------------------------------------------------------------


def confirm(question: str, *, default: bool = False) -> bool:
    """Ask a yes/no question in French (« o », « oui », « n », « non »; Entrée: ``default``)."""
    choices = "[O/n]" if default else "[o/N]"
    while True:
        answer = str(typer.prompt(f"{question} {choices}", default="", show_default=False)).strip().lower()
        if not answer:
            return default
        if answer in ("o", "oui", "y", "yes"):
            return True
        if answer in ("n", "non", "no"):
            return False
        typer.echo("Répondez « o » (oui) ou « n » (non).", err=True)


def on_a_terminal() -> bool:
    """Whether someone types at this command (not a script or a pipe feeding it)."""
    return sys.stdin.isatty()


def ask_password(label: str, *, twice: bool = False, otherwise: str = "") -> str:
    """Ask for a password without showing it; ``twice``: typed again, until both agree.

    With no terminal to ask on (a script, a pipe), the first line of the standard input is the
    password, read once and without the terminal library's English warning; none at all is an
    ``AssessorError`` that says ``otherwise`` (another way to give it)."""
    if not on_a_terminal():
        line = sys.stdin.readline()
        if not line:
            raise AssessorError(
                "mot de passe attendu, mais il n'y a pas de terminal pour le demander et rien sur l'entrée "
                f"standard{' : ' + otherwise if otherwise else ''}."
            )
        return line.rstrip("\r\n")
    while True:
        password = str(typer.prompt(label, hide_input=True))
        if not twice or str(typer.prompt("Confirmez le mot de passe", hide_input=True)) == password:
            return password
        typer.echo("Les deux saisies diffèrent ; recommencez.", err=True)
