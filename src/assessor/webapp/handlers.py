"""What the jury's workspace does: one class per tab, each event a method, wired by ``wire``.

Every handler goes through the review store (``assessor.review.store``), which checks who may do
what and writes the audit log; the handlers only turn clicks into store calls and store states
into components (``views``). Foreseeable failures (``AssessorError``) become a message on screen,
a conflict shows the review's current state, and anything else is a bug shown with a trace id
(``_Shared.guarded``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from assessor.errors import AssessorError
from assessor.logs import log_bug
from assessor.results import EVIDENCE_TO_EXAMINE
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
from assessor.review.exports import ExportFormat
from assessor.review.permissions import UPLOAD_TYPES, may_decide, may_sign, runnable_modes
from assessor.review.store import acceptance_refusal
from assessor.timefmt import local_time
from assessor.webapp import views
from assessor.webapp.files import allowed_types
from assessor.webapp.layout import ACCEPT, MODE_CHOICES, NOT_ACCEPTABLE, OVERRIDE, Screen, block_choices

if TYPE_CHECKING:
    from assessor.webapp.app import ReviewApp

log = logging.getLogger(__name__)


class AppError(AssessorError):
    """A foreseeable problem to show to the user (French)."""

    code = "action-impossible"


class _Shared:
    """What every tab's handlers use: the app, its components, the URL prefix, and the review's state
    turned into components."""

    def __init__(self, app: ReviewApp, screen: Screen, root: str) -> None:
        self.app, self.s, self.root = app, screen, root

    def guarded(self, fn: Callable[..., dict[Any, Any]], *, target: Any = None) -> Callable[..., dict[Any, Any]]:
        """Foreseeable errors become a message on screen (``target``, default the review's), never a traceback."""

        @functools.wraps(fn)  # Gradio reads the signature to pass gr.Request and gr.Progress
        def wrapper(*args: Any, **kwargs: Any) -> dict[Any, Any]:
            try:
                return fn(*args, **kwargs)
            except ConflictError as error:
                values = [*args, *kwargs.values()]
                request = next(v for v in values if isinstance(v, gr.Request))
                data = next((v for v in values if isinstance(v, dict)), {})
                out = self.review_outputs(self.app.user(request), error.current, data.get("selected"))
                out[self.s.msg] = out[self.s.sign_msg] = views.message(
                    f"{error} L'état actuel de la revue est affiché.", "error"
                )
                return out
            except AssessorError as error:
                log.info("refused", extra={"code": error.code, "event_handler": fn.__name__})
                return shown(str(error))
            except Exception as error:  # a bug: a trace id on screen, the traceback in the log
                trace_id = log_bug(error)
                return shown(
                    f"Erreur inattendue ({type(error).__name__}) : c'est un défaut d'Assessor, rien de votre "
                    f"fait. Numéro de suivi {trace_id}, à donner à l'administrateur."
                )

        def shown(text: str) -> dict[Any, Any]:
            message = views.message(text, "error")
            return {target: message} if target is not None else {self.s.msg: message, self.s.sign_msg: message}

        return wrapper

    def current(self, request: gr.Request, data: dict[str, Any]) -> tuple[User, ReviewState]:
        if not data.get("review"):
            raise AppError("Ouvrez d'abord une revue (onglet « Mes revues »).")
        user = self.app.user(request)
        return user, self.app.store.get(data["review"], user)

    def review_outputs(self, user: User, state: ReviewState, selected: str | None, note: str = "") -> dict[Any, Any]:
        ref = self.app.referential(state.summary.referential_id)
        selected = selected or views.next_attention(state, None) or state.report.criteria[0].criterion_id
        labels = state.report.outcome_labels
        can_decide = may_decide(user, state)
        can_sign = may_sign(user, state.summary)
        out: dict[Any, Any] = {
            self.s.session: {"review": state.summary.id, "version": state.version, "selected": selected, "cite": 0},
            self.s.header: views.header_html(state, ref, self.app.files_read(state.report.dossier.id)),
            self.s.grid: views.grid_html(state, ref, selected),
            self.s.block: gr.update(choices=state.summary.blocks, value=state.summary.blocks[0]),
            self.s.decide_group: gr.update(visible=can_decide),
            self.s.sign_group: gr.update(visible=can_sign),
            self.s.open_rows: gr.update(visible=not state.read_only),
            self.s.bulk_row: gr.update(visible=not state.read_only and can_decide),
            self.s.bulk_confirm: gr.update(visible=False),
            self.s.bulk_preview: "",
            self.s.sign_row: gr.update(visible=not state.read_only),
            self.s.revise_row: gr.update(visible=state.summary.status is ReviewStatus.SIGNED),
            self.s.sign_msg: views.message(note, "ok") if note else "",
            self.s.signer: gr.update(value=state.summary.signed_by_name or user.display_name),
            self.s.audit: [],  # read when the journal is opened: it holds every proposal's raw output
            self.s.msg: views.message(note, "ok") if note else "",
            self.s.download: "",
        }
        out.update(self.criterion_outputs(state, selected))
        choices = [(v, k) for k, v in labels.items() if k != EVIDENCE_TO_EXAMINE]
        out[self.s.outcome] = gr.update(choices=choices, value=out[self.s.outcome])
        return out

    def criterion_outputs(self, state: ReviewState, criterion_id: str) -> dict[Any, Any]:
        criterion, result = self.app.criterion(state, criterion_id)
        decision = state.decisions.get(criterion_id)
        choices = [(f"[{i + 1}] {c.file}, {c.locator}", i) for i, c in enumerate(result.citations)]
        refusal = acceptance_refusal(state.report, result)
        chosen = (
            (ACCEPT if decision.action is CriterionAction.ACCEPTED else OVERRIDE)
            if decision and decision.action
            else None
        )
        return {
            self.s.detail: views.criterion_html(state, criterion, result, self.app.names()),
            self.s.passages: views.citations_html(
                result, self.app.chunks(state.report.dossier.id), self.app.set_aside(state.report.dossier.id)
            ),
            self.s.cite: gr.update(choices=choices, value=0 if choices else None),
            # « Accepter » only where the proposal is a decision the jury can adopt as it stands.
            self.s.action: gr.update(
                choices=[OVERRIDE] if refusal else [ACCEPT, OVERRIDE],
                value=chosen,
                info=NOT_ACCEPTABLE if refusal else None,
            ),
            self.s.outcome: decision.outcome if decision and decision.action else None,
            self.s.reason: decision.reason if decision else "",
            self.s.comment: decision.comment if decision else "",
        }

    def audit_rows(self, review_id: str) -> list[list[str]]:
        rows = []
        names = self.app.names()
        for entry in self.app.store.audit_log(review_id)[-300:]:
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


class SessionsScreen(_Shared):
    """The « Mes revues » tab: who is logged in, their reviews, opening one."""

    def on_load(self, request: gr.Request) -> dict[Any, Any]:
        user = self.app.user(request)
        modes = runnable_modes(user.role)
        logout = f'<a href="{self.root}/logout">Se déconnecter</a>'
        return {
            self.s.who: f"<div style='text-align:right'>{views.esc(user.display_name)} · "
            f"{ROLE_LABELS[user.role]} · {logout}</div>",
            self.s.table: views.sessions_rows(self.app.store.list_reviews(user)),
            self.s.mode: gr.update(
                choices=[(MODE_CHOICES[m], m.value) for m in modes], value=modes[0].value if modes else None
            ),
            self.s.candidate_account: gr.update(
                visible=user.role is Role.TRAINER,
                choices=user.candidates,
            ),
            self.s.candidate: gr.update(value=user.display_name if user.role is Role.CANDIDATE else ""),
            self.s.run_btn: gr.update(interactive=bool(modes)),
            self.s.files: gr.update(
                label=f"Fichiers du dossier ({allowed_types(user.role)})",
                visible=bool(UPLOAD_TYPES[user.role]),
            ),
        }

    def on_refresh(self, request: gr.Request) -> list[list[str]]:
        return views.sessions_rows(self.app.store.list_reviews(self.app.user(request)))

    def on_open(self, evt: gr.SelectData, request: gr.Request) -> dict[Any, Any]:
        user = self.app.user(request)
        row = evt.row_value if evt.row_value else None
        if not row:
            raise AppError("Ligne vide.")
        state = self.app.store.get(str(row[-1]), user)  # the reference is the last column
        out = self.review_outputs(user, state, None)
        out[self.s.tabs] = gr.Tabs(selected="review")
        return out


class NewReviewScreen(_Shared):
    """The « Nouvelle pré-lecture » tab: the référentiel's blocks, running a pre-reading."""

    def on_referential(self, referential_id: str | None) -> dict[Any, Any]:
        if not referential_id:
            return {self.s.blocks: gr.update(choices=[], value=[])}
        ref = self.app.referential(referential_id)
        return {self.s.blocks: gr.update(choices=block_choices(ref), value=[])}

    def on_run(
        self,
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
        user = self.app.user(request)
        started = time.perf_counter()

        def step(done: int, total: int, label: str) -> None:
            progress((done, max(total, 1)), desc=label)

        state = self.app.run(user, files_, candidate_, ref_, blocks_, mode_, model_, account_, assigned_, step)
        out = self.review_outputs(
            user,
            state,
            None,
            f"Pré-lecture terminée en {time.perf_counter() - started:.0f} s : "
            f"{len(state.report.criteria)} critères proposés. Le jury décide de chacun.",
        )
        out[self.s.tabs] = gr.Tabs(selected="review")
        out[self.s.table] = views.sessions_rows(self.app.store.list_reviews(user))
        out[self.s.run_msg] = views.message("Pré-lecture enregistrée : ouverte dans l'onglet « Revue ».", "ok")
        return out


class ReviewScreen(_Shared):
    """The « Revue » tab: a criterion, its page, decisions, block decisions, signature, export, audit."""

    def on_pick(self, data: dict[str, Any], evt: gr.EventData, request: gr.Request) -> dict[Any, Any]:
        _, state = self.current(request, data)
        criterion_id = str(getattr(evt, "cid", "") or "")
        out = self.criterion_outputs(state, criterion_id)
        out[self.s.session] = {**data, "version": state.version, "selected": criterion_id, "cite": 0}
        out[self.s.msg] = ""
        return out

    def on_page(self, data: dict[str, Any], request: gr.Request) -> str:
        try:
            _, state = self.current(request, data)
            _, result = self.app.criterion(state, data.get("selected") or "")
            url = self.app.page_image(state, result, int(data.get("cite") or 0))
        except AssessorError:
            return ""
        return views.page_image_html(url) if url else views.no_page_html(result, int(data.get("cite") or 0))

    def on_next(self, data: dict[str, Any], request: gr.Request) -> dict[Any, Any]:
        _, state = self.current(request, data)
        target = views.next_attention(state, data.get("selected"))
        if target is None:
            return {self.s.msg: views.message("Tous les critères ont une décision du jury.", "ok")}
        ref = self.app.referential(state.summary.referential_id)
        out = self.criterion_outputs(state, target)
        out[self.s.grid] = views.grid_html(state, ref, target)
        out[self.s.session] = {**data, "version": state.version, "selected": target, "cite": 0}
        out[self.s.msg] = ""
        return out

    def on_cite(self, data: dict[str, Any], index: int | None) -> dict[str, Any]:
        return {**data, "cite": int(index or 0)}

    def on_save(
        self,
        data: dict[str, Any],
        action_: str | None,
        outcome_: str | None,
        reason_: str,
        comment_: str,
        request: gr.Request,
    ) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        criterion_id = data.get("selected") or ""
        if action_ is None:
            if not comment_.strip():
                raise AppError("Choisissez « accepter » ou « retenir une autre décision », ou écrivez un commentaire.")
            state = self.app.store.comment_criterion(
                data["review"], user, criterion_id, expected_version=int(data["version"]), comment=comment_
            )
            note = "Commentaire enregistré."
        else:
            accept = action_ == ACCEPT
            state = self.app.store.decide_criterion(
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
        return self.review_outputs(user, state, criterion_id, note)

    def on_block(
        self, data: dict[str, Any], block_: str | None, verdict_: str | None, justification_: str, request: gr.Request
    ) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        if not block_ or not verdict_:
            raise AppError("Choisissez le bloc et sa décision (validé ou non validé).")
        state = self.app.store.decide_block(
            data["review"],
            user,
            block_,
            expected_version=int(data["version"]),
            verdict=BlockVerdict(verdict_),
            justification=justification_,
        )
        return self.review_outputs(user, state, data.get("selected"), f"Décision du bloc {block_} enregistrée.")

    def on_bulk(self, data: dict[str, Any], block_: str | None, request: gr.Request) -> dict[Any, Any]:
        """Show what « accepter les propositions restantes du bloc » would accept, before anything is written."""
        _, state = self.current(request, data)
        if not block_:
            raise AppError("Choisissez le bloc.")
        accepted, left = self.app.store.remaining_proposals(state, block_)
        preview = views.bulk_preview_html(state, block_, accepted, left)
        return {
            self.s.session: {**data, "version": state.version, "bulk": {"block": block_, "ids": accepted}},
            self.s.bulk_preview: preview,
            self.s.bulk_confirm: gr.update(visible=bool(accepted)),
            self.s.sign_msg: "",
        }

    def on_bulk_confirm(self, data: dict[str, Any], request: gr.Request) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        chosen = data.get("bulk") or {}
        if not chosen.get("ids"):
            raise AppError("Affichez d'abord les propositions à accepter.")
        state, accepted, left = self.app.store.accept_remaining(
            data["review"],
            user,
            chosen["block"],
            expected_version=int(data["version"]),
            expected=chosen["ids"],
        )
        done = f"{len(accepted)} proposition{'s acceptées' if len(accepted) > 1 else ' acceptée'}"
        rest = f"{len(left)} critère{'s restent' if len(left) > 1 else ' reste'} à décider un par un"
        note = f"{done} dans le bloc {chosen['block']}" + (f" ; {rest}." if left else ".")
        return self.review_outputs(user, state, data.get("selected"), note)

    def on_sign(self, data: dict[str, Any], signer_: str, request: gr.Request) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        state = self.app.store.sign(data["review"], user, expected_version=int(data["version"]), signer_name=signer_)
        return self.review_outputs(
            user, state, data.get("selected"), "Revue signée : elle est désormais en lecture seule."
        )

    def on_revise(self, data: dict[str, Any], reason_: str, request: gr.Request) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        state = self.app.store.new_revision(data["review"], user, reason=reason_)
        return self.review_outputs(user, state, data.get("selected"), f"Révision {state.summary.revision} créée.")

    def on_export(self, data: dict[str, Any], fmt_: str, request: gr.Request) -> dict[Any, Any]:
        user, _ = self.current(request, data)
        path = self.app.export(user, data["review"], ExportFormat(fmt_ or "pdf"))
        note = views.message(f"Export prêt : {path.name}", "ok")
        return {
            self.s.download: views.download_html(self.app.files.url(path, self.root), path.name),
            self.s.msg: note,
            self.s.sign_msg: note,
        }

    def on_audit(self, data: dict[str, Any], request: gr.Request) -> list[list[str]]:
        try:
            _, state = self.current(request, data)
        except AssessorError:
            return []
        return self.audit_rows(state.summary.id)


def wire(demo: gr.Blocks, s: Screen, app: ReviewApp, root: str) -> None:
    """Connect each component's events to its tab's handler, in the order the workspace needs them."""
    sessions, new, review = SessionsScreen(app, s, root), NewReviewScreen(app, s, root), ReviewScreen(app, s, root)
    demo.load(
        sessions.guarded(sessions.on_load, target=s.who),  # an account removed since login: a message, not « Error »
        None,
        [s.who, s.table, s.mode, s.candidate_account, s.candidate, s.run_btn, s.files],
    )
    s.refresh.click(sessions.on_refresh, None, s.table)
    s.referential.change(new.on_referential, s.referential, s.blocks)
    all_review = [
        s.session,
        s.header,
        s.grid,
        s.outcome,
        s.block,
        s.decide_group,
        s.sign_group,
        s.open_rows,
        s.bulk_row,
        s.bulk_confirm,
        s.bulk_preview,
        s.sign_row,
        s.revise_row,
        s.sign_msg,
        s.signer,
        s.audit,
        s.msg,
        s.download,
        s.detail,
        s.passages,
        s.cite,
        s.action,
        s.reason,
        s.comment,
    ]
    ran = s.run_btn.click(
        new.guarded(new.on_run, target=s.run_msg),
        [s.files, s.candidate, s.referential, s.blocks, s.mode, s.model, s.candidate_account, s.assigned],
        [*all_review, s.tabs, s.table, s.run_msg],
    )
    opened = s.table.select(sessions.guarded(sessions.on_open), None, [*all_review, s.tabs])
    pick_outputs = [
        s.session,
        s.detail,
        s.passages,
        s.cite,
        s.action,
        s.outcome,
        s.reason,
        s.comment,
        s.msg,
        s.sign_msg,
    ]
    # Opening a review, by the list or by a run, shows its first criterion's page as a click would.
    for event in (opened, ran):
        event.then(review.on_page, [s.session], s.page, show_progress="hidden", queue=False)
    # Selecting a criterion is the jury's most frequent action: it skips the queue (a direct
    # request, about 150 ms less per click); the page image follows as a second step.
    s.grid.click(review.guarded(review.on_pick), [s.session], pick_outputs, show_progress="hidden", queue=False).then(
        review.on_page, [s.session], s.page, show_progress="hidden", queue=False
    )
    s.next_btn.click(
        review.guarded(review.on_next), [s.session], [*pick_outputs, s.grid], show_progress="hidden", queue=False
    ).then(review.on_page, [s.session], s.page, show_progress="hidden", queue=False)
    s.cite.input(review.on_cite, [s.session, s.cite], s.session, show_progress="hidden", queue=False).then(
        review.on_page, [s.session], s.page, show_progress="hidden", queue=False
    )
    s.save.click(review.guarded(review.on_save), [s.session, s.action, s.outcome, s.reason, s.comment], all_review)
    s.block_save.click(review.guarded(review.on_block), [s.session, s.block, s.verdict, s.justification], all_review)
    s.bulk.click(
        review.guarded(review.on_bulk),
        [s.session, s.block],
        [s.session, s.bulk_preview, s.bulk_confirm, s.sign_msg, s.msg],
    )
    s.bulk_confirm.click(review.guarded(review.on_bulk_confirm), [s.session], all_review)
    s.sign.click(review.guarded(review.on_sign), [s.session, s.signer], all_review)
    s.revise.click(review.guarded(review.on_revise), [s.session, s.revision_reason], all_review)
    s.audit_box.expand(review.on_audit, [s.session], s.audit)
    s.export_btn.click(review.guarded(review.on_export), [s.session, s.fmt], [s.download, s.msg, s.sign_msg])
