"""First run: create the first administrator in the browser, through a one-time link.

With no account yet and the app listening on this machine only, ``python app.py`` prints a link
holding a random token (like a notebook server's), valid once, to a page that creates the first
administrator. There is never an open default account: without the token the page refuses,
once used the link is dead, and on any other address than loopback the app does not start
without an account (``assessor users add`` stays the way for a server).
"""

from __future__ import annotations

import hmac
import html
import secrets
import threading
from collections.abc import Callable
from typing import Any

from assessor.review.auth import AuthError, UsersFile
from assessor.review.domain import Role

SETUP_PATH = "/premier-compte"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Assessor · premier compte</title><style>
body {{ font-family: system-ui, "Segoe UI", Arial, sans-serif; background: #f7f8fb; color: #1f2430; }}
main {{ max-width: 460px; margin: 8vh auto; background: #fff; padding: 28px 32px; border-radius: 10px;
  box-shadow: 0 2px 10px rgba(0, 0, 0, .08); }}
h1 {{ font-size: 22px; margin: 0 0 6px; }} p {{ line-height: 1.45; }}
label {{ display: block; font-weight: 600; margin: 14px 0 4px; }}
input {{ width: 100%; box-sizing: border-box; padding: 9px 10px; border: 1px solid #c8ccd6; border-radius: 6px;
  font-size: 15px; }}
button {{ margin-top: 20px; width: 100%; padding: 11px; border: 0; border-radius: 6px; background: #5b5fe0;
  color: #fff; font-size: 16px; font-weight: 600; cursor: pointer; }}
.error {{ background: #fdecea; color: #8a1c13; padding: 10px 12px; border-radius: 6px; }}
.ok {{ background: #e8f5e9; color: #1b5e20; padding: 10px 12px; border-radius: 6px; }}
small {{ color: #5d6475; }}
</style></head><body><main>{body}</main></body></html>"""


class FirstAccount:
    """The one-time link and what it creates (thread-safe: the link works once)."""

    def __init__(self, users: UsersFile, *, record: Callable[[str, str], object] | None = None) -> None:
        self.users = users
        self.token: str | None = secrets.token_urlsafe(24)
        self._record = record
        self._lock = threading.Lock()

    def link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}{SETUP_PATH}?jeton={self.token}"

    def _valid(self, token: str | None) -> bool:
        current = self.token
        return current is not None and token is not None and hmac.compare_digest(current.encode(), token.encode())

    def page(self, token: str | None) -> tuple[int, str]:
        """(HTTP status, HTML) of the form, or of the refusal."""
        if not self._valid(token):
            return 403, _refused()
        return 200, _form(token or "")

    def create(self, form: dict[str, str]) -> tuple[int, str]:
        """Create the administrator from the submitted form; (HTTP status, HTML)."""
        token = form.get("jeton")
        with self._lock:
            if not self._valid(token):
                return 403, _refused()
            username = form.get("identifiant", "").strip()
            name = form.get("nom", "").strip()
            password = form.get("mot_de_passe", "")
            if password != form.get("confirmation", ""):
                return 400, _form(token or "", error="Les deux mots de passe diffèrent.", username=username, name=name)
            try:
                self.users.add(username, name, Role.ADMIN, password)
            except AuthError as error:
                return 400, _form(token or "", error=str(error), username=username, name=name)
            self.token = None  # the link is dead
        if self._record is not None:
            self._record(username.lower(), "first_admin_created")
        return 200, _PAGE.format(
            body="<h1>Compte administrateur créé</h1>"
            f'<p class="ok">Le compte « {html.escape(username)} » ({html.escape(name)}) est prêt. Ce lien ne '
            "servira plus.</p><p>Connectez-vous maintenant : les autres comptes se créent avec "
            "« assessor users add ».</p>"
            '<p><a href="./">Aller à la page de connexion</a></p>'
        )


def _refused() -> str:
    return _PAGE.format(
        body='<h1>Lien invalide</h1><p class="error">Ce lien de création du premier compte n\'est pas valable : '
        "il a déjà servi, ou il est incomplet.</p><p><small>Le lien affiché au démarrage de l'application ne sert "
        "qu'une fois. Les comptes se créent aussi avec « assessor users add ».</small></p>"
    )


def _form(token: str, *, error: str = "", username: str = "", name: str = "") -> str:
    e = html.escape
    problem = f'<p class="error">{e(error)}</p>' if error else ""
    return _PAGE.format(
        body="<h1>Premier compte administrateur</h1>"
        "<p>Aucun compte n'existe encore. Créez l'administrateur de cette installation ; ce lien ne sert "
        "qu'une fois.</p>"
        f"{problem}"
        f'<form method="post" action="premier-compte"><input type="hidden" name="jeton" value="{e(token)}">'
        f'<label for="identifiant">Identifiant</label><input id="identifiant" name="identifiant" required '
        f'value="{e(username)}" autocomplete="username">'
        f'<label for="nom">Nom affiché</label><input id="nom" name="nom" required value="{e(name)}" '
        'placeholder="Prénom Nom">'
        '<label for="mot_de_passe">Mot de passe</label><input id="mot_de_passe" name="mot_de_passe" '
        'type="password" required minlength="8" autocomplete="new-password">'
        '<label for="confirmation">Confirmation du mot de passe</label><input id="confirmation" '
        'name="confirmation" type="password" required minlength="8" autocomplete="new-password">'
        '<button type="submit">Créer l\'administrateur</button></form>'
        "<p><small>Au moins 8 caractères. Le mot de passe est conservé haché, jamais en clair.</small></p>"
    )


def mount(app: Any, first: FirstAccount) -> None:
    """The page's route on the app's server (a plain Starlette route: outside Gradio's login)."""
    from starlette.responses import HTMLResponse

    async def endpoint(request: Any) -> HTMLResponse:
        if request.method == "POST":
            form = await request.form()
            status, body = first.create({k: str(v) for k, v in form.items()})
        else:
            status, body = first.page(request.query_params.get("jeton"))
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    app.add_route(SETUP_PATH, endpoint, methods=["GET", "POST"], include_in_schema=False)
