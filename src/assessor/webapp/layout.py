"""What the jury's workspace shows: its three tabs and their components, without any behaviour.

``lay_out`` builds the components inside the app's ``gr.Blocks`` and returns them as a ``Screen``;
``webapp.handlers`` gives them their behaviour, one class per tab. The labels a handler also reads
(the decision choices) live here, beside the components that show them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assessor.referential import Referential
from assessor.results import Mode
from assessor.review.domain import BlockVerdict
from assessor.settings import BASELINE
from assessor.webapp import views

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry
import gradio as gr

if TYPE_CHECKING:
    from assessor.webapp.app import ReviewApp

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


def block_choices(ref: Referential) -> list[tuple[str, str]]:
    return [(f"{b.code} · {b.title[:80]}", b.code) for b in ref.blocks]


@dataclass(frozen=True)
class Screen:
    """Every component of the workspace, by the name the handlers use."""

    session: Any
    who: Any
    tabs: Any
    refresh: Any
    table: Any
    run_btn: Any
    run_msg: Any
    header: Any
    sign_group: Any
    bulk_preview: Any
    sign_msg: Any
    fmt: Any
    export_btn: Any
    download: Any
    audit_box: Any
    audit: Any
    files: Any
    candidate: Any
    candidate_account: Any
    assigned: Any
    referential: Any
    blocks: Any
    mode: Any
    model: Any
    grid: Any
    next_btn: Any
    detail: Any
    msg: Any
    passages: Any
    cite: Any
    page: Any
    open_rows: Any
    block: Any
    verdict: Any
    justification: Any
    block_save: Any
    bulk_row: Any
    bulk: Any
    bulk_confirm: Any
    sign_row: Any
    signer: Any
    sign: Any
    revise_row: Any
    revision_reason: Any
    revise: Any
    decide_group: Any
    action: Any
    outcome: Any
    reason: Any
    comment: Any
    save: Any


def lay_out(app: ReviewApp) -> Screen:
    """The components of the three tabs, created in the current ``gr.Blocks``."""
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
                    candidate_account = gr.Dropdown(label="Compte du candidat (facultatif)", choices=[], visible=False)
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
                        label="Blocs", choices=block_choices(first) if first else [], elem_id="as-blocks"
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
    return Screen(
        session=session,
        who=who,
        tabs=tabs,
        refresh=refresh,
        table=table,
        run_btn=run_btn,
        run_msg=run_msg,
        header=header,
        sign_group=sign_group,
        bulk_preview=bulk_preview,
        sign_msg=sign_msg,
        fmt=fmt,
        export_btn=export_btn,
        download=download,
        audit_box=audit_box,
        audit=audit,
        files=files,
        candidate=candidate,
        candidate_account=candidate_account,
        assigned=assigned,
        referential=referential,
        blocks=blocks,
        mode=mode,
        model=model,
        grid=grid,
        next_btn=next_btn,
        detail=detail,
        msg=msg,
        passages=passages,
        cite=cite,
        page=page,
        open_rows=open_rows,
        block=block,
        verdict=verdict,
        justification=justification,
        block_save=block_save,
        bulk_row=bulk_row,
        bulk=bulk,
        bulk_confirm=bulk_confirm,
        sign_row=sign_row,
        signer=signer,
        sign=sign,
        revise_row=revise_row,
        revision_reason=revision_reason,
        revise=revise,
        decide_group=decide_group,
        action=action,
        outcome=outcome,
        reason=reason,
        comment=comment,
        save=save,
    )
