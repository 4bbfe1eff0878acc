"""``assessor users``: manage the review app's accounts (the users file) from the command line.

Passwords are read hidden (typed twice) or from standard input, hashed at once, and never
printed; ``list`` never shows hashes.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assessor.cli.common import console, settings
from assessor.cli.french import ask_password
from assessor.review.auth import UsersFile
from assessor.review.domain import ROLE_LABELS, Role

users_app = typer.Typer(
    help="Gérer les comptes de l'application de revue (fichier users.yaml du dossier des données, "
    "ou ASSESSOR_USERS_FILE).",
    no_args_is_help=True,
)


def _users_file() -> UsersFile:
    return UsersFile(settings().resolved_users_file)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return typer.get_text_stream("stdin").readline().rstrip("\r\n")
    return ask_password("Mot de passe", twice=True, otherwise="donnez-le avec --password-stdin")


@users_app.command("add")
def add(
    username: Annotated[
        str, typer.Argument(metavar="IDENTIFIANT", help="Identifiant de connexion (minuscules, chiffres, . _ -).")
    ],
    role: Annotated[Role, typer.Option("--role", help="Rôle du compte.", case_sensitive=False)],
    name: Annotated[str, typer.Option("--name", help="Nom affiché, par exemple « Dupont Marie ».")],
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", help="Pour un formateur : identifiant d'un de ses candidats (option répétable)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Lit le mot de passe sur l'entrée standard au lieu de le demander."),
    ] = False,
) -> None:
    """Ajoute un compte ; le mot de passe est demandé deux fois, sans s'afficher."""
    users = _users_file()
    password = _read_password(password_stdin)
    account = users.add(username, name, role, password, candidates=candidate or ())
    console.print(
        f"Compte « {escape(account.username)} » ({ROLE_LABELS[account.role]}) ajouté dans {escape(str(users.path))}.",
        soft_wrap=True,
    )


@users_app.command("list")
def list_users() -> None:
    """Liste les comptes (sans les empreintes de mot de passe)."""
    users = _users_file()
    accounts = users.load()
    if not accounts:
        console.print(f"Aucun compte dans {escape(str(users.path))}.", soft_wrap=True)
        return
    table = Table("Identifiant", "Nom", "Rôle", "Candidats suivis")
    for account in accounts:
        table.add_row(
            escape(account.username),
            escape(account.display_name),
            ROLE_LABELS[account.role],
            escape(", ".join(account.candidates)),
        )
    console.print(table)


@users_app.command("remove")
def remove(
    username: Annotated[str, typer.Argument(metavar="IDENTIFIANT", help="Identifiant du compte à supprimer.")],
) -> None:
    """Supprime un compte (les revues et le journal d'audit gardent son identifiant)."""
    users = _users_file()
    account = users.remove(username)
    console.print(f"Compte « {escape(account.username)} » supprimé de {escape(str(users.path))}.", soft_wrap=True)
