"""The jury's workspace: a Gradio app to run a pre-assessment, review it, decide, sign and export.

Everything goes through :class:`assessor.review.store.ReviewStore`, which checks who may see
and change what and writes the audit log; this module only turns clicks into store calls and
store states into screens (``views``). The logged-in user is Gradio's (``auth=``, a cookie
session), looked up in the users file on every event, so a removed account stops at once.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from assessor.atomic import write_atomic
from assessor.chunking import Chunk
from assessor.datafolder import DossierError
from assessor.dossiers import DossierFile, DossierStore
from assessor.errors import AssessorError
from assessor.ingest.document import SetAside
from assessor.ingest.sniff import sniff
from assessor.library import Library
from assessor.logs import log_bug
from assessor.referential import Criterion, Referential
from assessor.results import EVIDENCE_TO_EXAMINE, CriterionResult, Mode
from assessor.review.auth import AuthError, UsersFile, normalize_username
from assessor.review.domain import (
    AUDIT_ACTION_LABELS,
    ROLE_LABELS,
    BlockVerdict,
    ConflictError,
    CriterionAction,
    ReviewState,
    ReviewStatus,
    Role,
    User,
)
from assessor.review.exports import ExportFormat, export_filename, export_review
from assessor.review.permissions import may_decide, may_sign, runnable_modes
from assessor.review.store import MAX_ASSIGNED_JURY, MAX_NAME_CHARS, ReviewStore, acceptance_refusal
from assessor.settings import BASELINE, Settings
from assessor.timefmt import local_time
from assessor.webapp import views
from assessor.webapp.files import UPLOAD_TYPES, FileGuard, PrivateFiles, allowed_types
from assessor.webapp.pages import render_page
from assessor.webapp.setup import FirstAccount, mount

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry
import gradio as gr
from starlette.middleware import Middleware

log = logging.getLogger(__name__)

MODE_CHOICES = {
    Mode.JURY: "Pré-lecture pour le jury (neutre)",
    Mode.TRAINER: "Retour formatif du formateur",
    Mode.CANDIDATE: "Auto-vérification du candidat (sans note)",
}
ACCEPT = "Accepter la proposition"
NOT_ACCEPTABLE = "Cette proposition n'est pas une décision (des passages à lire) : choisissez vous-même l'issue."
OVERRIDE = "Retenir une autre décision"
VERDICT_CHOICES = [("validé", BlockVerdict.VALIDATED.value), ("non validé", BlockVerdict.NOT_VALIDATED.value)]
GRID_JS = """
element.addEventListener('click', (event) => {
  const row = event.target.closest('[data-cid]');
  if (!row) return;
  element.querySelectorAll('.as-row.selected').forEach((r) => r.classList.remove('selected'));
  row.classList.add('selected');
  trigger('click', {cid: row.dataset.cid});
});
if (!window.__assessorKeys) {
  window.__assessorKeys = true;
  document.addEventListener('keydown', (event) => {
    const tag = (document.activeElement && document.activeElement.tagName) || '';
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key !== 'j' && event.key !== 'k') return;
    const grid = document.querySelector('#as-grid');
    if (!grid) return;
    const rows = [...grid.querySelectorAll('[data-cid]')];
    if (!rows.length) return;
    const step = event.key === 'j' ? 1 : -1;
    let index = rows.findIndex((r) => r.classList.contains('selected'));
    for (let i = 0; i < rows.length; i++) {
      index = (index + step + rows.length) % rows.length;
      if (rows[index].dataset.attention === '1') break;
    }
    rows[index].scrollIntoView({block: 'nearest'});
    rows[index].click();
    event.preventDefault();
  });
}
"""


class AppError(AssessorError):
    """A foreseeable problem to show to the user (French)."""

    code = "action-impossible"


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


def _block_choices(ref: Referential) -> list[tuple[str, str]]:
    return [(f"{b.code} · {b.title[:80]}", b.code) for b in ref.blocks]


def _theme() -> Any:
    # System fonts only: the default theme would fetch Google Fonts, and there may be no network.
    return gr.themes.Soft(font=["system-ui", "Segoe UI", "Arial", "sans-serif"], font_mono=["monospace"])


def build(app: ReviewApp) -> gr.Blocks:
    """The Gradio Blocks of the workspace."""
    root = app.settings.app.root_path.rstrip("/")

    with gr.Blocks(title="Assessor · revue du jury", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        session = gr.State({})  # {"review": id, "version": n, "selected": criterion id, "cite": index}
        with gr.Row():
            gr.Markdown("## Assessor · espace du jury\n*La machine propose, le jury décide.*")
            who = gr.HTML(elem_id="as-who")
        with gr.Tabs(selected="sessions") as tabs:
            with gr.Tab("Mes revues", id="sessions"):
                refresh = gr.Button("Actualiser la liste", size="sm", elem_id="as-refresh")
                table = gr.Dataframe(
                    headers=views.SESSION_COLUMNS,
                    interactive=False,
                    wrap=True,
                    column_widths=views.SESSION_COLUMN_WIDTHS,
                    elem_id="as-sessions",
                    label="Revues (cliquez une ligne pour l'ouvrir)",
                )
            with gr.Tab("Nouvelle pré-lecture", id="new"):
                with gr.Row():
                    with gr.Column():
                        files = gr.File(
                            label="Fichiers du dossier",
                            file_count="multiple",
                            # No file_types: Gradio's own refusal is an English toast. The upload route
                            # refuses a type the role may not send, in French (webapp/files.py).
                            elem_id="as-files",
                        )
                        candidate = gr.Textbox(label="Candidat (nom ou référence)", elem_id="as-candidate")
                        candidate_account = gr.Dropdown(
                            label="Compte du candidat (facultatif)", choices=[], visible=False
                        )
                        assigned = gr.Textbox(
                            label="Autres membres du jury (identifiants, séparés par des virgules)",
                            elem_id="as-assigned",
                        )
                    with gr.Column():
                        ref_choices = [
                            (f"{r.title} ({r.id})", r.id) for _, r in app.library.all() if isinstance(r, Referential)
                        ]
                        # Gradio shows a dropdown's first choice when it has no value: make that explicit,
                        # with its blocks, or picking it would change nothing and list no block.
                        first = app.referential(ref_choices[0][1]) if ref_choices else None
                        referential = gr.Dropdown(
                            label="Référentiel",
                            choices=ref_choices,
                            value=first.id if first else None,
                            elem_id="as-ref",
                        )
                        blocks = gr.CheckboxGroup(
                            label="Blocs", choices=_block_choices(first) if first else [], elem_id="as-blocks"
                        )
                        mode = gr.Radio(label="Mode", choices=[], elem_id="as-mode")
                        default_model = app.settings.llm.model
                        models = [("Repérage sans IA (aucun modèle)", BASELINE)]
                        if default_model != BASELINE:
                            models.append((default_model, default_model))
                        model = gr.Dropdown(
                            label="Modèle",
                            choices=models,
                            value=default_model,
                            allow_custom_value=True,
                            info="« fournisseur:modèle », par exemple openai:gpt-4o-mini ; "
                            "la clé vient de la configuration.",
                        )
                run_btn = gr.Button("Lancer la pré-lecture", variant="primary", elem_id="as-run")
                run_msg = gr.HTML()
            with gr.Tab("Revue", id="review"):
                header = gr.HTML(elem_id="as-header")
                with gr.Row():
                    with gr.Column(scale=5):
                        grid = gr.HTML(elem_id="as-grid", js_on_load=GRID_JS, padding=False)
                    with gr.Column(scale=6):
                        next_btn = gr.Button("Critère suivant à examiner (j)", size="sm", elem_id="as-next")
                        detail = gr.HTML(elem_id="as-detail")
                        with gr.Group(visible=True) as decide_group:
                            action = gr.Radio(choices=[ACCEPT, OVERRIDE], label="Décision", elem_id="as-action")
                            outcome = gr.Dropdown(label="Décision retenue", choices=[], elem_id="as-outcome")
                            reason = gr.Textbox(
                                label="Motif (obligatoire pour modifier la proposition)", elem_id="as-reason"
                            )
                            comment = gr.Textbox(label="Commentaire", elem_id="as-comment")
                            save = gr.Button("Enregistrer la décision", variant="primary", elem_id="as-save")
                        msg = gr.HTML(elem_id="as-msg")
                        passages = gr.HTML(elem_id="as-passages")
                        cite = gr.Radio(label="Page affichée", choices=[], elem_id="as-cite")
                        # Served by the app's private route, checked against the review on every request.
                        page = gr.HTML(elem_id="as-page", label="Page du dossier, citation surlignée")
                with gr.Accordion("Décision par bloc et signature", open=True, visible=True) as sign_group:
                    with gr.Row() as open_rows:
                        block = gr.Dropdown(label="Bloc", choices=[], elem_id="as-block")
                        verdict = gr.Radio(label="Décision du bloc", choices=VERDICT_CHOICES, elem_id="as-verdict")
                        justification = gr.Textbox(label="Justification", elem_id="as-justification")
                        block_save = gr.Button("Enregistrer la décision du bloc", elem_id="as-block-save")
                    with gr.Row() as bulk_row:
                        bulk = gr.Button("Accepter les propositions restantes du bloc…", size="sm", elem_id="as-bulk")
                        bulk_confirm = gr.Button(
                            "Confirmer l'acceptation de ces propositions",
                            variant="primary",
                            size="sm",
                            visible=False,
                            elem_id="as-bulk-confirm",
                        )
                    bulk_preview = gr.HTML(elem_id="as-bulk-preview")
                    with gr.Row() as sign_row:
                        signer = gr.Textbox(label="Nom du signataire", elem_id="as-signer")
                        sign = gr.Button("Signer la revue", variant="stop", elem_id="as-sign")
                    with gr.Row(visible=False) as revise_row:
                        revision_reason = gr.Textbox(
                            label="Motif d'une nouvelle révision (la revue signée reste au dossier)",
                            elem_id="as-rev-reason",
                        )
                        revise = gr.Button("Créer une nouvelle révision", elem_id="as-revise")
                    sign_msg = gr.HTML(elem_id="as-sign-msg")
                with gr.Row():
                    fmt = gr.Radio(
                        label="Exporter la grille",
                        choices=[("PDF", "pdf"), ("Word (DOCX)", "docx"), ("CSV", "csv"), ("JSON", "json")],
                        value="pdf",
                        elem_id="as-format",
                    )
                    export_btn = gr.Button("Exporter", elem_id="as-export")
                    download = gr.HTML(elem_id="as-download")
                with gr.Accordion("Journal d'audit de cette revue", open=False) as audit_box:
                    audit = gr.Dataframe(
                        headers=["Date", "Auteur", "Action", "Critère", "Détail"],
                        interactive=False,
                        wrap=True,
                        elem_id="as-audit",
                        column_widths=["14%", "16%", "20%", "16%", "34%"],
                    )

        # -- helpers bound to this screen ---------------------------------------------------

        def review_outputs(user: User, state: ReviewState, selected: str | None, note: str = "") -> dict[Any, Any]:
            ref = app.referential(state.summary.referential_id)
            selected = selected or views.next_attention(state, None) or state.report.criteria[0].criterion_id
            labels = state.report.outcome_labels
            can_decide = may_decide(user, state)
            can_sign = may_sign(user, state.summary)
            out: dict[Any, Any] = {
                session: {"review": state.summary.id, "version": state.version, "selected": selected, "cite": 0},
                header: views.header_html(state, ref, app.files_read(state.report.dossier.id)),
                grid: views.grid_html(state, ref, selected),
                block: gr.update(choices=state.summary.blocks, value=state.summary.blocks[0]),
                decide_group: gr.update(visible=can_decide),
                sign_group: gr.update(visible=can_sign),
                open_rows: gr.update(visible=not state.read_only),
                bulk_row: gr.update(visible=not state.read_only and can_decide),
                bulk_confirm: gr.update(visible=False),
                bulk_preview: "",
                sign_row: gr.update(visible=not state.read_only),
                revise_row: gr.update(visible=state.summary.status is ReviewStatus.SIGNED),
                sign_msg: views.message(note, "ok") if note else "",
                signer: gr.update(value=state.summary.signed_by_name or user.display_name),
                audit: [],  # read when the journal is opened: it holds every proposal's raw output
                msg: views.message(note, "ok") if note else "",
                download: "",
            }
            out.update(criterion_outputs(state, selected))
            choices = [(v, k) for k, v in labels.items() if k != EVIDENCE_TO_EXAMINE]
            out[outcome] = gr.update(choices=choices, value=out[outcome])
            return out

        def criterion_outputs(state: ReviewState, criterion_id: str) -> dict[Any, Any]:
            criterion, result = app.criterion(state, criterion_id)
            decision = state.decisions.get(criterion_id)
            choices = [(f"[{i + 1}] {c.file}, {c.locator}", i) for i, c in enumerate(result.citations)]
            refusal = acceptance_refusal(state.report, result)
            chosen = (
                (ACCEPT if decision.action is CriterionAction.ACCEPTED else OVERRIDE)
                if decision and decision.action
                else None
            )
            return {
                detail: views.criterion_html(state, criterion, result, app.names()),
                passages: views.citations_html(
                    result, app.chunks(state.report.dossier.id), app.set_aside(state.report.dossier.id)
                ),
                cite: gr.update(choices=choices, value=0 if choices else None),
                # « Accepter » only where the proposal is a decision the jury can adopt as it stands.
                action: gr.update(
                    choices=[OVERRIDE] if refusal else [ACCEPT, OVERRIDE],
                    value=chosen,
                    info=NOT_ACCEPTABLE if refusal else None,
                ),
                outcome: decision.outcome if decision and decision.action else None,
                reason: decision.reason if decision else "",
                comment: decision.comment if decision else "",
            }

        def audit_rows(review_id: str) -> list[list[str]]:
            rows = []
            names = app.names()
            for entry in app.store.audit_log(review_id)[-300:]:
                summary = entry.after or entry.details
                rows.append(
                    [
                        local_time(entry.at, seconds=True, zone=False),
                        views.person(entry.actor, names),
                        AUDIT_ACTION_LABELS.get(entry.action, entry.action),
                        entry.criterion_id or "",
                        str(summary)[:160] if summary else "",  # a table cell is text, never HTML
                    ]
                )
            return rows

        def guarded(fn: Callable[..., dict[Any, Any]], *, target: Any = None) -> Callable[..., dict[Any, Any]]:
            """Foreseeable errors become a message on screen (``target``, default the review's), never a traceback."""

            @functools.wraps(fn)  # Gradio reads the signature to pass gr.Request and gr.Progress
            def wrapper(*args: Any, **kwargs: Any) -> dict[Any, Any]:
                try:
                    return fn(*args, **kwargs)
                except ConflictError as error:
                    values = [*args, *kwargs.values()]
                    request = next(v for v in values if isinstance(v, gr.Request))
                    data = next((v for v in values if isinstance(v, dict)), {})
                    out = review_outputs(app.user(request), error.current, data.get("selected"))
                    out[msg] = out[sign_msg] = views.message(f"{error} L'état actuel de la revue est affiché.", "error")
                    return out
                except AssessorError as error:
                    log.info("refused", extra={"code": error.code, "event_handler": fn.__name__})
                    text = views.message(str(error), "error")
                    return {target: text} if target is not None else {msg: text, sign_msg: text}
                except Exception as error:  # a bug: a trace id on screen, the traceback in the log
                    trace_id = log_bug(error)
                    text = views.message(
                        f"Erreur inattendue ({type(error).__name__}) : c'est un défaut d'Assessor, rien de votre "
                        f"fait. Numéro de suivi {trace_id}, à donner à l'administrateur.",
                        "error",
                    )
                    return {target: text} if target is not None else {msg: text, sign_msg: text}

            return wrapper

        # -- events -------------------------------------------------------------------------

        @functools.partial(guarded, target=who)  # an account removed since login: a message, not « Error »
        def on_load(request: gr.Request) -> dict[Any, Any]:
            user = app.user(request)
            modes = runnable_modes(user.role)
            logout = f'<a href="{root}/logout">Se déconnecter</a>'
            return {
                who: f"<div style='text-align:right'>{views.esc(user.display_name)} · "
                f"{ROLE_LABELS[user.role]} · {logout}</div>",
                table: views.sessions_rows(app.store.list_reviews(user)),
                mode: gr.update(
                    choices=[(MODE_CHOICES[m], m.value) for m in modes], value=modes[0].value if modes else None
                ),
                candidate_account: gr.update(
                    visible=user.role is Role.TRAINER,
                    choices=user.candidates,
                ),
                candidate: gr.update(value=user.display_name if user.role is Role.CANDIDATE else ""),
                run_btn: gr.update(interactive=bool(modes)),
                files: gr.update(
                    label=f"Fichiers du dossier ({allowed_types(user.role)})",
                    visible=bool(UPLOAD_TYPES[user.role]),
                ),
            }

        demo.load(on_load, None, [who, table, mode, candidate_account, candidate, run_btn, files])

        def on_refresh(request: gr.Request) -> list[list[str]]:
            return views.sessions_rows(app.store.list_reviews(app.user(request)))

        refresh.click(on_refresh, None, table)

        def on_referential(referential_id: str | None) -> dict[Any, Any]:
            if not referential_id:
                return {blocks: gr.update(choices=[], value=[])}
            ref = app.referential(referential_id)
            return {blocks: gr.update(choices=_block_choices(ref), value=[])}

        referential.change(on_referential, referential, blocks)

        all_review = [
            session,
            header,
            grid,
            outcome,
            block,
            decide_group,
            sign_group,
            open_rows,
            bulk_row,
            bulk_confirm,
            bulk_preview,
            sign_row,
            revise_row,
            sign_msg,
            signer,
            audit,
            msg,
            download,
            detail,
            passages,
            cite,
            action,
            reason,
            comment,
        ]

        def on_run(
            files_: list[str] | None,
            candidate_: str,
            ref_: str | None,
            blocks_: list[str],
            mode_: str | None,
            model_: str | None,
            account_: str | None,
            assigned_: str,
            request: gr.Request,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> dict[Any, Any]:
            user = app.user(request)
            started = time.perf_counter()

            def step(done: int, total: int, label: str) -> None:
                progress((done, max(total, 1)), desc=label)

            state = app.run(user, files_, candidate_, ref_, blocks_, mode_, model_, account_, assigned_, step)
            out = review_outputs(
                user,
                state,
                None,
                f"Pré-lecture terminée en {time.perf_counter() - started:.0f} s : "
                f"{len(state.report.criteria)} critères proposés. Le jury décide de chacun.",
            )
            out[tabs] = gr.Tabs(selected="review")
            out[table] = views.sessions_rows(app.store.list_reviews(user))
            out[run_msg] = views.message("Pré-lecture enregistrée : ouverte dans l'onglet « Revue ».", "ok")
            return out

        ran = run_btn.click(
            guarded(on_run, target=run_msg),
            [files, candidate, referential, blocks, mode, model, candidate_account, assigned],
            [*all_review, tabs, table, run_msg],
        )

        @guarded
        def on_open(evt: gr.SelectData, request: gr.Request) -> dict[Any, Any]:
            user = app.user(request)
            row = evt.row_value if evt.row_value else None
            if not row:
                raise AppError("Ligne vide.")
            state = app.store.get(str(row[-1]), user)  # the reference is the last column
            out = review_outputs(user, state, None)
            out[tabs] = gr.Tabs(selected="review")
            return out

        opened = table.select(on_open, None, [*all_review, tabs])

        def current(request: gr.Request, data: dict[str, Any]) -> tuple[User, ReviewState]:
            if not data.get("review"):
                raise AppError("Ouvrez d'abord une revue (onglet « Mes revues »).")
            user = app.user(request)
            return user, app.store.get(data["review"], user)

        pick_outputs = [session, detail, passages, cite, action, outcome, reason, comment, msg, sign_msg]

        @guarded
        def on_pick(data: dict[str, Any], evt: gr.EventData, request: gr.Request) -> dict[Any, Any]:
            _, state = current(request, data)
            criterion_id = str(getattr(evt, "cid", "") or "")
            out = criterion_outputs(state, criterion_id)
            out[session] = {**data, "version": state.version, "selected": criterion_id, "cite": 0}
            out[msg] = ""
            return out

        def on_page(data: dict[str, Any], request: gr.Request) -> str:
            try:
                _, state = current(request, data)
                _, result = app.criterion(state, data.get("selected") or "")
                url = app.page_image(state, result, int(data.get("cite") or 0))
            except AssessorError:
                return ""
            return views.page_image_html(url) if url else views.no_page_html(result, int(data.get("cite") or 0))

        # Opening a review, by the list or by a run, shows its first criterion's page as a click would.
        for event in (opened, ran):
            event.then(on_page, [session], page, show_progress="hidden", queue=False)

        # Selecting a criterion is the jury's most frequent action: it skips the queue (a direct
        # request, about 150 ms less per click); the page image follows as a second step.
        grid.click(on_pick, [session], pick_outputs, show_progress="hidden", queue=False).then(
            on_page, [session], page, show_progress="hidden", queue=False
        )

        @guarded
        def on_next(data: dict[str, Any], request: gr.Request) -> dict[Any, Any]:
            _, state = current(request, data)
            target = views.next_attention(state, data.get("selected"))
            if target is None:
                return {msg: views.message("Tous les critères ont une décision du jury.", "ok")}
            ref = app.referential(state.summary.referential_id)
            out = criterion_outputs(state, target)
            out[grid] = views.grid_html(state, ref, target)
            out[session] = {**data, "version": state.version, "selected": target, "cite": 0}
            out[msg] = ""
            return out

        next_btn.click(on_next, [session], [*pick_outputs, grid], show_progress="hidden", queue=False).then(
            on_page, [session], page, show_progress="hidden", queue=False
        )

        def on_cite(data: dict[str, Any], index: int | None) -> dict[str, Any]:
            return {**data, "cite": int(index or 0)}

        cite.input(on_cite, [session, cite], session, show_progress="hidden", queue=False).then(
            on_page, [session], page, show_progress="hidden", queue=False
        )

        @guarded
        def on_save(
            data: dict[str, Any],
            action_: str | None,
            outcome_: str | None,
            reason_: str,
            comment_: str,
            request: gr.Request,
        ) -> dict[Any, Any]:
            user, _ = current(request, data)
            criterion_id = data.get("selected") or ""
            if action_ is None:
                if not comment_.strip():
                    raise AppError(
                        "Choisissez « accepter » ou « retenir une autre décision », ou écrivez un commentaire."
                    )
                state = app.store.comment_criterion(
                    data["review"], user, criterion_id, expected_version=int(data["version"]), comment=comment_
                )
                note = "Commentaire enregistré."
            else:
                accept = action_ == ACCEPT
                state = app.store.decide_criterion(
                    data["review"],
                    user,
                    criterion_id,
                    expected_version=int(data["version"]),
                    accept=accept,
                    outcome=None if accept else outcome_,
                    reason=reason_,
                    comment=comment_,
                )
                note = "Décision enregistrée."
            return review_outputs(user, state, criterion_id, note)

        save.click(on_save, [session, action, outcome, reason, comment], all_review)

        @guarded
        def on_block(
            data: dict[str, Any], block_: str | None, verdict_: str | None, justification_: str, request: gr.Request
        ) -> dict[Any, Any]:
            user, _ = current(request, data)
            if not block_ or not verdict_:
                raise AppError("Choisissez le bloc et sa décision (validé ou non validé).")
            state = app.store.decide_block(
                data["review"],
                user,
                block_,
                expected_version=int(data["version"]),
                verdict=BlockVerdict(verdict_),
                justification=justification_,
            )
            return review_outputs(user, state, data.get("selected"), f"Décision du bloc {block_} enregistrée.")

        block_save.click(on_block, [session, block, verdict, justification], all_review)

        @guarded
        def on_bulk(data: dict[str, Any], block_: str | None, request: gr.Request) -> dict[Any, Any]:
            """Show what « accepter les propositions restantes du bloc » would accept, before anything is written."""
            _, state = current(request, data)
            if not block_:
                raise AppError("Choisissez le bloc.")
            accepted, left = app.store.remaining_proposals(state, block_)
            preview = views.bulk_preview_html(state, block_, accepted, left)
            return {
                session: {**data, "version": state.version, "bulk": {"block": block_, "ids": accepted}},
                bulk_preview: preview,
                bulk_confirm: gr.update(visible=bool(accepted)),
                sign_msg: "",
            }

        bulk.click(on_bulk, [session, block], [session, bulk_preview, bulk_confirm, sign_msg, msg])

        @guarded
        def on_bulk_confirm(data: dict[str, Any], request: gr.Request) -> dict[Any, Any]:
            user, _ = current(request, data)
            chosen = data.get("bulk") or {}
            if not chosen.get("ids"):
                raise AppError("Affichez d'abord les propositions à accepter.")
            state, accepted, left = app.store.accept_remaining(
                data["review"],
                user,
                chosen["block"],
                expected_version=int(data["version"]),
                expected=chosen["ids"],
            )
            done = f"{len(accepted)} proposition{'s acceptées' if len(accepted) > 1 else ' acceptée'}"
            rest = f"{len(left)} critère{'s restent' if len(left) > 1 else ' reste'} à décider un par un"
            note = f"{done} dans le bloc {chosen['block']}" + (f" ; {rest}." if left else ".")
            return review_outputs(user, state, data.get("selected"), note)

        bulk_confirm.click(on_bulk_confirm, [session], all_review)

        @guarded
        def on_sign(data: dict[str, Any], signer_: str, request: gr.Request) -> dict[Any, Any]:
            user, _ = current(request, data)
            state = app.store.sign(data["review"], user, expected_version=int(data["version"]), signer_name=signer_)
            return review_outputs(
                user, state, data.get("selected"), "Revue signée : elle est désormais en lecture seule."
            )

        sign.click(on_sign, [session, signer], all_review)

        @guarded
        def on_revise(data: dict[str, Any], reason_: str, request: gr.Request) -> dict[Any, Any]:
            user, _ = current(request, data)
            state = app.store.new_revision(data["review"], user, reason=reason_)
            return review_outputs(user, state, data.get("selected"), f"Révision {state.summary.revision} créée.")

        revise.click(on_revise, [session, revision_reason], all_review)

        @guarded
        def on_export(data: dict[str, Any], fmt_: str, request: gr.Request) -> dict[Any, Any]:
            user, _ = current(request, data)
            path = app.export(user, data["review"], ExportFormat(fmt_ or "pdf"))
            note = views.message(f"Export prêt : {path.name}", "ok")
            return {download: views.download_html(app.files.url(path, root), path.name), msg: note, sign_msg: note}

        def on_audit(data: dict[str, Any], request: gr.Request) -> list[list[str]]:
            try:
                _, state = current(request, data)
            except AssessorError:
                return []
            return audit_rows(state.summary.id)

        audit_box.expand(on_audit, [session], audit)

        export_btn.click(on_export, [session, fmt], [download, msg, sign_msg])

    blocks_app: gr.Blocks = demo
    return blocks_app


def launch(
    settings: Settings, *, prevent_thread_lock: bool = False, first_run: bool = False
) -> tuple[gr.Blocks, ReviewApp]:
    """Start the app on the configured host and port (127.0.0.1:7860 by default). ``first_run``:
    no account yet; print the one-time link that creates the first administrator (``webapp.setup``)."""
    app = ReviewApp(settings)
    demo: gr.Blocks = build(app)
    demo.queue(default_concurrency_limit=8)
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
