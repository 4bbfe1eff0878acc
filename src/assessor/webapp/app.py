"""The jury's workspace: a Gradio app to run a pre-assessment, review it, decide, sign and export.

Everything goes through :class:`assessor.review.store.ReviewStore`, which checks who may see
and change what and writes the audit log. This module holds the app's state that outlives a request
(``ReviewApp``) and starts it (``launch``); the screens are laid out by ``webapp.layout`` and
given behaviour by ``webapp.handlers`` (one class per tab), which turn clicks into store calls
and store states into components (``views``). The logged-in user is Gradio's (``auth=``, a cookie
session), looked up in the users file on every event, so a removed account stops at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from assessor.atomic import write_atomic
from assessor.chunking import Chunk
from assessor.datafolder import DossierError
from assessor.dossiers import DossierFile, DossierStore
from assessor.ingest.document import SetAside
from assessor.ingest.sniff import sniff
from assessor.library import Library
from assessor.referential import Criterion, Referential
from assessor.results import CriterionResult, Mode
from assessor.review.auth import AuthError, UsersFile, normalize_username
from assessor.review.domain import (
    ReviewState,
    Role,
    User,
)
from assessor.review.exports import ExportFormat, export_filename, export_review
from assessor.review.permissions import runnable_modes
from assessor.review.store import MAX_ASSIGNED_JURY, MAX_NAME_CHARS, ReviewStore
from assessor.settings import BASELINE, Settings
from assessor.webapp import views
from assessor.webapp.files import UPLOAD_TYPES, FileGuard, PrivateFiles, allowed_types
from assessor.webapp.handlers import AppError as AppError, wire
from assessor.webapp.layout import lay_out
from assessor.webapp.pages import render_page
from assessor.webapp.setup import FirstAccount, mount

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry
# Up to eight events at once across all sessions (Gradio's default is one, which would make each
# jury member wait for the others). Read by the queue every Blocks creates: a later queue() call
# would build Gradio's whole server app a fourth time, 0.2 s more before the first page.
os.environ.setdefault("GRADIO_DEFAULT_CONCURRENCY_LIMIT", "8")
import gradio as gr
from starlette.middleware import Middleware

log = logging.getLogger(__name__)


class ReviewApp:
    """The app's state that outlives a request: settings, stores and caches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = ReviewStore.from_settings(settings)
        self.dossiers = DossierStore(settings)
        self.library = Library.from_settings(settings)
        self.users = UsersFile(settings.resolved_users_file)
        self.files = PrivateFiles(settings.data_dir, self.store, self.users)
        # Opening the first review would otherwise pay for starting the index client (about half a second).
        threading.Thread(target=self._warm_up, name="assessor-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            for dossier in self.dossiers.all()[-3:]:
                self.chunks(dossier.id)
        except Exception:
            return

    # -- who and what ----------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> bool:
        if not self.users.path.exists():  # first run: no account until the one-time link has made one
            return False
        user = self.users.authenticate(username, password)
        self.store.record(user.username if user else f"inconnu:{username[:40]}", "login" if user else "login_failed")
        return user is not None

    def user(self, request: gr.Request | None) -> User:
        username = getattr(request, "username", None)
        user = self.users.get(username) if username else None
        if user is not None:
            return user
        raise AppError("Session expirée ou compte supprimé : reconnectez-vous.")

    @lru_cache(maxsize=32)  # noqa: B019 - one app per process, référentiels never change while it runs
    def referential(self, referential_id: str) -> Referential:
        return self.library.get(referential_id)

    @lru_cache(maxsize=16)  # noqa: B019 - chunks of a dossier never change once ingested
    def chunks(self, dossier_id: str) -> dict[str, Chunk]:
        return {chunk.id: chunk for chunk in self.dossiers.index.chunks(dossier_id)}

    def names(self) -> dict[str, str]:
        """Each account's name by username: screens name people, the audit keeps their usernames."""
        try:
            return {account.username: account.display_name for account in self.users.load()}
        except AuthError:
            return {}

    def files_read(self, dossier_id: str) -> list[DossierFile]:
        """The dossier's files and what ingestion noticed in them; none if the dossier was deleted since."""
        try:
            return self.dossiers.get(dossier_id).files
        except DossierError:
            return []

    def set_aside(self, dossier_id: str) -> dict[tuple[str, int], list[SetAside]]:
        """What ingestion set aside on each page of the dossier's files (headers, template text…)."""
        return {
            (record.name, page): items
            for record in self.dossiers.get(dossier_id).files
            for page, items in record.set_aside.items()
        }

    def criterion(self, state: ReviewState, criterion_id: str) -> tuple[Criterion, CriterionResult]:
        result = next((r for r in state.report.criteria if r.criterion_id == criterion_id), None)
        if result is None:
            raise AppError(f"Critère inconnu dans cette revue : {criterion_id}")
        ref = self.referential(state.summary.referential_id)
        criterion = next(c for c in ref.criteria_of(result.block) if c.id == criterion_id)
        return criterion, result

    # -- running a pre-assessment ----------------------------------------------------------

    def check_uploads(self, files: list[str] | None, role: Role) -> list[Path]:
        """The uploaded files, if their role may send their type (by name and by content) and size."""
        accepted = allowed_types(role)
        if not files:
            raise AppError(f"Ajoutez au moins un fichier du dossier ({accepted}).")
        limit = self.settings.app.max_upload_mb * 1024 * 1024
        paths = [Path(f) for f in files]
        for path in paths:
            if path.suffix.lower() not in UPLOAD_TYPES[role]:
                raise AppError(
                    f"Type de fichier refusé : « {path.name} ». Formats acceptés pour votre rôle : {accepted}."
                )
            with path.open("rb") as handle:
                sniff(path, handle.read(8192))  # the content, not the name, says what the file is
            if path.stat().st_size > limit:
                raise AppError(
                    f"Fichier trop volumineux : « {path.name} » ({path.stat().st_size / 1e6:.1f} Mo ; "
                    f"limite {self.settings.app.max_upload_mb} Mo, que l'administrateur règle avec "
                    "ASSESSOR_APP__MAX_UPLOAD_MB)."
                )
        return paths

    def run(
        self,
        user: User,
        files: list[str] | None,
        candidate: str,
        referential_id: str | None,
        blocks: list[str],
        mode: str | None,
        model: str | None,
        candidate_username: str | None,
        assigned: str,
        progress: Callable[[int, int, str], None],
    ) -> ReviewState:
        allowed = runnable_modes(user.role)
        if not allowed:
            raise AppError("Votre rôle ne permet pas de lancer une pré-lecture.")
        chosen_mode = Mode(mode) if mode else allowed[0]
        if chosen_mode not in allowed:
            raise AppError("Ce mode n'est pas ouvert à votre rôle.")
        if user.role is Role.CANDIDATE:
            candidate = candidate.strip() or user.display_name
            candidate_username = user.username
        if not candidate.strip():
            raise AppError("Indiquez le nom ou la référence du candidat.")
        if len(candidate) > MAX_NAME_CHARS or len(assigned) > MAX_NAME_CHARS * MAX_ASSIGNED_JURY:
            raise AppError(
                f"Nom du candidat ou liste du jury trop longs ({MAX_NAME_CHARS} caractères par nom au plus)."
            )
        if not referential_id:
            raise AppError("Choisissez un référentiel.")
        if not blocks:
            raise AppError("Choisissez au moins un bloc de compétences.")
        paths = self.check_uploads(files, user.role)
        ref = self.referential(referential_id)
        dossier_id = f"app-{secrets.token_hex(8)}"
        try:
            # Each file is read in a worker held to the ingestion limits, and only this new dossier is
            # locked: a hostile upload costs its own worker, not the other juries' runs.
            self.dossiers.ingest(dossier_id, paths, progress=lambda label, done, total: progress(done, total, label))
        finally:
            # The dossier keeps its own copies (named by content hash): the uploads are not needed any more.
            uploads = self.settings.data_dir.resolve() / "uploads"
            for path in paths:
                if path.resolve().is_relative_to(uploads):
                    path.unlink(missing_ok=True)
            self.files.forget_uploads(paths)
        from assessor.pipeline import assess_dossier  # LangChain: imported by the first run, not by the first page

        llm = self.settings.llm.overridden(model=(model or BASELINE).strip() or BASELINE)
        report = assess_dossier(
            self.dossiers,
            dossier_id,
            ref,
            blocks=blocks,
            mode=chosen_mode,
            llm=llm,
            progress=lambda done, total, cid: progress(done, total, f"critère {cid}"),
        )
        jury = [normalize_username(name) for name in assigned.split(",") if name.strip()]
        return self.store.create_review(
            report,
            user=user,
            candidate=candidate.strip(),
            candidate_username=candidate_username or None,
            assigned_jury=jury,
        )

    # -- exports ---------------------------------------------------------------------------

    def export(self, user: User, review_id: str, fmt: ExportFormat) -> Path:
        state = self.store.get(review_id, user)
        anchor = self.store.anchor(review_id, user)
        data = export_review(state, self.referential(state.summary.referential_id), fmt, anchor=anchor)
        self.files.sweep()
        target = self.files.export_path(review_id, export_filename(state, fmt))
        write_atomic(target, data)
        self.store.record(
            user.username, "export", review_id=review_id, details={"format": fmt.value, "version": state.version}
        )
        return target

    def page_image(self, state: ReviewState, result: CriterionResult, number: int) -> str | None:
        if not result.citations or not 0 <= number < len(result.citations):
            return None
        citation = result.citations[number]
        record = next((f for f in self.dossiers.get(state.report.dossier.id).files if f.name == citation.file), None)
        if record is None or not record.paged or citation.page is None or record.kind != "pdf":
            return None
        path = render_page(
            self.dossiers.stored_file(state.report.dossier.id, record),
            citation.page,
            citation.quote,
            self.files.pages_dir(state.summary.id),
        )
        return self.files.url(path, self.settings.app.root_path.rstrip("/")) if path else None


def _theme() -> Any:
    # System fonts only: the default theme would fetch Google Fonts, and there may be no network.
    return gr.themes.Soft(font=["system-ui", "Segoe UI", "Arial", "sans-serif"], font_mono=["monospace"])


def build(app: ReviewApp) -> gr.Blocks:
    """The Gradio Blocks of the workspace: its layout (``webapp.layout``), given behaviour by the
    handlers of each tab (``webapp.handlers``)."""
    root = app.settings.app.root_path.rstrip("/")
    with gr.Blocks(title="Assessor · revue du jury", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        wire(demo, lay_out(app), app, root)
    blocks_app: gr.Blocks = demo
    return blocks_app


def launch(
    settings: Settings, *, prevent_thread_lock: bool = False, first_run: bool = False
) -> tuple[gr.Blocks, ReviewApp]:
    """Start the app on the configured host and port (127.0.0.1:7860 by default). ``first_run``:
    no account yet; print the one-time link that creates the first administrator (``webapp.setup``)."""
    app = ReviewApp(settings)
    demo: gr.Blocks = build(app)
    upload_dir = Path(gr.utils.get_upload_folder())
    data = settings.data_dir.resolve()
    private = {data / name for name in ("dossiers", "private", "exports", "cache", "chroma", "assessor.db")}
    private |= {*data.iterdir(), settings.resolved_users_file.resolve(), settings.resolved_audit_key_file.resolve()}
    demo.launch(
        server_name=settings.app.host,
        server_port=settings.app.port,
        root_path=settings.app.root_path or None,
        auth=app.authenticate,
        auth_message="Assessor · connectez-vous avec votre compte (créé par « assessor users add »).",
        max_file_size=f"{settings.app.max_upload_mb}mb",
        # Nothing of the data folder is Gradio's to serve but uploads, each to its sender (FileGuard);
        # exports and pages go through the app's own route, which checks the review on every request.
        blocked_paths=sorted(str(p) for p in private if p.resolve() != upload_dir.resolve()),
        app_kwargs={
            "routes": [app.files.route()],
            "middleware": [Middleware(FileGuard, files=app.files, upload_dir=upload_dir)],
        },
        theme=_theme(),
        css=views.CSS,
        head=views.TOASTS_IN_FRENCH,
        footer_links=["settings"],
        prevent_thread_lock=True,
        quiet=False,
        show_error=False,
        ssr_mode=False,
    )
    # Logins live in the review database, under a cookie name every replica derives from the shared
    # audit key: behind a reverse proxy, or after a restart, a jury member stays logged in.
    demo.server_app.tokens = app.store.sessions()  # type: ignore[assignment]  # a mapping with the same use
    demo.server_app.cookie_id = app.store.session_cookie_id()
    if first_run:
        first = FirstAccount(app.users, record=app.store.record)
        mount(demo.server_app, first)
        base = f"http://{settings.app.host}:{settings.app.port}{settings.app.root_path.rstrip('/')}"
        print(
            "\nAucun compte n'existe encore. Pour créer l'administrateur, ouvrez ce lien à usage unique :\n"
            f"    {first.link(base)}\n",
            flush=True,
        )
    if not prevent_thread_lock:
        demo.block_thread()
    return demo, app
