"""Commands imported when they are used.

Each command's module imports what the command needs (the référentiels, the review store, the
evaluation…), and typer builds a command from its module. The root group knows its commands
by name, with a one-line summary for ``assessor --help``, and imports a command's module only
when that command runs or shows its own help: ``assessor search`` never imports the review
app's database layer, and ``assessor --help`` imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from assessor.cli.french import FrenchCommand, FrenchGroup, french_typer


@dataclass(frozen=True)
class Lazy:
    """A command known by where it lives: ``module:attribute``, a command function or a ``typer.Typer``."""

    target: str
    summary: str


class LazyGroup(FrenchGroup):
    """A group whose commands (``lazy``, in the order of the list) are imported on first use; every
    command is built from the French classes (``assessor.cli.french``)."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in self.lazy if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        entry = self.lazy.get(cmd_name)
        if command is not None or entry is None:
            return command
        if self._listing:  # the list of commands only needs a name and a summary
            return TyperCommand(cmd_name, short_help=entry.summary)
        command = self._load(cmd_name, entry)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _load(self, name: str, entry: Lazy) -> Any:
        module, _, attribute = entry.target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            command: Any = get_group(french_typer(target))
            command.name = name
        else:
            info = CommandInfo(name=name, callback=target, cls=FrenchCommand)
            command = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=self.rich_markup_mode)
        command.short_help = entry.summary
        return command
