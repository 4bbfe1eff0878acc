"""The review app's private files: uploads, exports and page images, each served only to a user
allowed to see it, checked on every request.

Gradio serves files by ``/gradio_api/file=PATH`` to any logged-in user who has the URL. Here:

- exports and rendered pages are written under ``<data>/private/<review id>/<random>/`` and
  served by ``/assessor/fichiers/<review id>/<folder>/<name>`` only after
  ``ReviewStore.get(review, user)``, which refuses whoever may not see that review;
- Gradio's file route serves a user their own uploads and nothing else;
- its upload route takes only the file types the user's role may send (``UPLOAD_TYPES``), and
  deletes at once anything else it was sent.

Exports and renders older than ``MAX_AGE_S`` are deleted, at start-up and at each export.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from assessor.review.auth import UsersFile
from assessor.review.domain import ReviewError, Role, User
from assessor.review.permissions import UPLOAD_TYPES as UPLOAD_TYPES
from assessor.review.store import ReviewStore

UPLOAD_LABELS = {".pdf": "PDF", ".docx": "DOCX", ".txt": "TXT", ".md": "MD"}
ROUTE = "/assessor/fichiers"
MAX_AGE_S = 24 * 3600
_NAME = re.compile(r"^(?!\.)[A-Za-z0-9._-]{1,150}$")  # review ids and random names may start with « - » or « _ »
_GRADIO_FILE = "/file="
_GRADIO_UPLOAD = "/gradio_api/upload"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def allowed_types(role: Role) -> str:
    """« PDF, DOCX » for a role: what it may upload, in words."""
    return ", ".join(UPLOAD_LABELS[s] for s in UPLOAD_TYPES[role]) or "aucun"


class PrivateFiles:
    """Where the app's private files live, who uploaded what, and the checks made on each request."""

    def __init__(self, data_dir: Path, store: ReviewStore, users: UsersFile) -> None:
        self.folder = data_dir / "private"
        self.store = store
        self.users = users
        self._uploads: dict[str, str] = {}  # resolved upload path -> username
        self._lock = threading.Lock()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self._secret = self._key()
        self.sweep()

    def _key(self) -> bytes:
        """A random key kept in the private folder: page renders get names no one can work out."""
        path = self.folder / ".key"
        if not path.exists():
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        return path.read_bytes()

    # -- writing -----------------------------------------------------------------------------

    def export_path(self, review_id: str, filename: str) -> Path:
        """A fresh, unguessable place for one export of a review."""
        folder = self.folder / review_id / secrets.token_urlsafe(18)
        folder.mkdir(parents=True)
        return folder / filename

    def pages_dir(self, review_id: str) -> Path:
        """The review's page renders: a folder named by a keyed hash, stable across restarts."""
        digest = hmac.new(self._secret, f"pages|{review_id}".encode(), hashlib.sha256).hexdigest()[:32]
        return self.folder / review_id / digest

    def url(self, path: Path, root: str = "") -> str:
        """The app URL of a private file (written by ``export_path`` or under ``pages_dir``)."""
        relative = path.relative_to(self.folder)
        return f"{root}{ROUTE}/" + "/".join(quote(part) for part in relative.parts)

    def sweep(self, max_age_s: float = MAX_AGE_S) -> None:
        """Delete exports and renders older than ``max_age_s``, and the folders they leave empty."""
        cutoff = time.time() - max_age_s
        for path in sorted(self.folder.glob("*/*/*"), reverse=True):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        for folder in sorted(self.folder.glob("*/*"), reverse=True) + sorted(self.folder.glob("*")):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    # -- who asks ----------------------------------------------------------------------------

    def user(self, scope: Scope) -> User | None:
        """The logged-in user of a request, from Gradio's session cookie, looked up in the users file."""
        app = scope.get("app")
        tokens = getattr(app, "tokens", None)
        cookie_id = getattr(app, "cookie_id", None)
        if tokens is None or cookie_id is None:
            return None
        cookies = Request(scope).cookies
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        username = tokens.get(token) if token else None
        return self.users.get(username) if username else None

    # -- serving -----------------------------------------------------------------------------

    def route(self) -> Route:
        return Route(ROUTE + "/{review}/{folder}/{name}", self.serve, methods=["GET", "HEAD"])

    def serve(self, request: Request) -> Response:
        """A private file, to a user who may see its review; 404 to anyone else (nothing is confirmed)."""
        user = self.user(request.scope)
        if user is None:
            return PlainTextResponse("Connectez-vous pour ouvrir ce fichier.", status_code=401)
        review, folder, name = (request.path_params[k] for k in ("review", "folder", "name"))
        missing = PlainTextResponse("Fichier introuvable ou réservé à d'autres utilisateurs.", status_code=404)
        if not all(_NAME.match(part) for part in (review, folder, name)):
            return missing
        try:
            self.store.get(review, user)
        except ReviewError:
            return missing
        path = self.folder / review / folder / name
        if not path.is_file():
            return missing
        headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
        if path.suffix == ".png":
            return FileResponse(path, media_type="image/png", headers=headers)
        return FileResponse(path, filename=name, headers=headers)  # as an attachment, never rendered

    def uploaded(self, paths: list[str], user: User, upload_dir: Path) -> str | None:
        """Record a user's uploads; delete them and say why if the role may not send that type."""
        refused = [p for p in paths if Path(p).suffix.lower() not in UPLOAD_TYPES[user.role]]
        if refused:
            for path in paths:
                self._discard(Path(path), upload_dir)
            return (
                f"Type de fichier refusé : « {Path(refused[0]).name} ». Formats acceptés pour votre rôle : "
                f"{allowed_types(user.role)}."
            )
        with self._lock:
            for path in paths:
                self._uploads[str(Path(path).resolve())] = user.username
        return None

    def owns_upload(self, user: User, path: Path) -> bool:
        with self._lock:
            return self._uploads.get(str(path.resolve())) == user.username

    def forget_uploads(self, paths: list[Path]) -> None:
        with self._lock:
            for path in paths:
                self._uploads.pop(str(path.resolve()), None)

    @staticmethod
    def _discard(path: Path, upload_dir: Path) -> None:
        resolved = path.resolve()
        if resolved.is_relative_to(upload_dir.resolve()):
            resolved.unlink(missing_ok=True)
            if resolved.parent != upload_dir.resolve() and not any(resolved.parent.iterdir()):
                resolved.parent.rmdir()


class FileGuard:
    """ASGI middleware in front of Gradio's file and upload routes (``PrivateFiles`` decides)."""

    def __init__(self, app: ASGIApp, files: PrivateFiles, upload_dir: Path) -> None:
        self.app = app
        self.files = files
        self.upload_dir = upload_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (_GRADIO_FILE in path or path.endswith(_GRADIO_UPLOAD)):
            await self.app(scope, receive, send)
            return
        user = self.files.user(scope)
        if user is None:
            await self.app(scope, receive, send)  # Gradio's own login check answers 401
            return
        if _GRADIO_FILE in path:
            wanted = Path(path.split(_GRADIO_FILE, 1)[1])
            if not self.files.owns_upload(user, wanted):
                await PlainTextResponse("Fichier réservé à qui l'a envoyé.", status_code=403)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not UPLOAD_TYPES[user.role]:
            await PlainTextResponse("Votre rôle ne permet pas d'envoyer des fichiers.", status_code=403)(
                scope, receive, send
            )
            return
        await self._upload(scope, receive, send, user)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, user: User) -> None:
        """Let Gradio store the upload, then record it, or delete it if its type is not the role's."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        refusal = None
        if start is not None and start["status"] == 200:
            try:
                paths = [str(p) for p in json.loads(body)]
            except (ValueError, TypeError):
                paths = []
            refusal = self.files.uploaded(paths, user, self.upload_dir)
        if refusal:
            await PlainTextResponse(refusal, status_code=400)(scope, receive, send)
            return
        for message in held:
            await send(message)
