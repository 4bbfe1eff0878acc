"""HTML of the review screens, built on the server from a ``ReviewState``.

Every text that comes from a dossier, a model or a person (quotes, rationales, reasons,
candidate names, file names) goes through :func:`html.escape`: a dossier containing
``<script>`` shows it as text and runs nothing. Only this module's own markup is HTML.

The grid is a list of ``<button data-cid=...>`` rows; the app's JavaScript turns a click (or
the keyboard) into a selection event carrying the criterion id, nothing else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from assessor.chunking import Chunk
from assessor.citations import verify_quote
from assessor.ingest.document import SetAside
from assessor.ingest.furniture import SET_ASIDE_LABELS, SetAsideKind
from assessor.injection import injections_of
from assessor.referential import COMPETENCY_LEVEL_LABEL, Criterion, CriterionLevel, Referential
from assessor.results import (
    EVIDENCE_TO_EXAMINE,
    FLAG_LABELS,
    FLAG_SHORT_LABELS,
    MODE_LABELS,
    STATUS_LABELS,
    CriterionResult,
    DossierFlag,
    Flag,
    Mode,
    Status,
)
from assessor.review.domain import (
    BLOCK_VERDICT_LABELS,
    CRITERION_ACTION_LABELS,
    REVIEW_STATUS_LABELS,
    ReviewState,
    ReviewSummary,
)
from assessor.timefmt import local_time
from assessor.wording import blocks_named, counted

if TYPE_CHECKING:
    from assessor.dossiers import DossierFile

OUTCOME_CLASSES: dict[str, str] = {
    "acquis": "ok",
    "partiellement_acquis": "partial",
    "non_acquis": "ko",
    "preuves_insuffisantes": "insufficient",
    "non_evaluable_ecrit": "oral",
    EVIDENCE_TO_EXAMINE: "examine",
}
"""Badge colour per outcome code; custom scales fall back to a neutral badge."""

MODALITY_LABELS = {"written": "écrit", "oral": "oral", "role_play": "mise en situation", "mixed": "mixte"}

WARNING_MARK = "⚠"
"""In DejaVu Sans and every system font: an emoji shows as an empty box where no emoji font is installed."""

FLAG_MARKS: dict[Flag, str] = {
    Flag.UNVERIFIED_CITATION: WARNING_MARK,
    Flag.POSITIVE_WITHOUT_EVIDENCE: WARNING_MARK,
    Flag.SUSPECTED_INJECTION: WARNING_MARK,
    Flag.MODEL_ERROR: WARNING_MARK,
    Flag.OFF_REFERENTIAL: WARNING_MARK,
    Flag.WEAK_SIGNAL: "◐",
}
"""The grid's alerts are the short labels of ``results``, these marking the ones that need the jury's eye."""


def flag_mark(flag: Flag) -> str:
    mark = FLAG_MARKS.get(flag)
    return f"{mark} {FLAG_SHORT_LABELS[flag]}" if mark else FLAG_SHORT_LABELS[flag]


CSS = """
.as-page-img { width: 100%; height: auto; border: 1px solid var(--border-color-primary); }
.as-grid { font-size: 14px; }
.as-grid h3 { margin: 14px 0 4px; font-size: 15px; }
.as-grid h4 { margin: 10px 0 2px; font-size: 13px; font-weight: 600; color: var(--body-text-color-subdued); }
.as-row { display: flex; gap: 8px; align-items: flex-start; width: 100%; text-align: left; padding: 6px 8px;
  border: 1px solid var(--border-color-primary); border-radius: 6px; margin: 3px 0; cursor: pointer;
  background: var(--background-fill-primary); color: var(--body-text-color); font: inherit; }
.as-row:hover { border-color: #5b7bd5; }
.as-row.selected { outline: 3px solid #5b7bd5; }
.as-row .num { min-width: 2.2em; color: var(--body-text-color-subdued); }
.as-row .txt { flex: 1; }
.as-row .marks { display: flex; flex-direction: column; gap: 2px; align-items: flex-end; min-width: 11em; }
.as-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.as-badge.ok { background: #d8f3dc; color: #1b5e20; }
.as-badge.partial { background: #fff1c2; color: #7a4f00; }
.as-badge.ko { background: #fddede; color: #9b1c1c; }
.as-badge.insufficient { background: #ece4f7; color: #4a2c7a; }
.as-badge.oral { background: #e7e7e7; color: #333; }
.as-badge.examine { background: #dcebff; color: #0b3d91; }
.as-badge.neutral { background: #eee; color: #333; }
.as-badge.jury { border-color: #333; }
.as-flag { font-size: 11px; color: #9b1c1c; white-space: nowrap; }
.as-flag.info { color: var(--body-text-color-subdued); }
.as-detail { font-size: 14px; line-height: 1.45; }
.as-detail .crit { font-size: 15px; font-weight: 600; margin: 4px 0 8px; }
.as-detail section { margin: 10px 0; }
.as-detail h4 { margin: 0 0 4px; font-size: 13px; text-transform: uppercase; letter-spacing: .03em;
  color: var(--body-text-color-subdued); }
.as-cite { border-left: 4px solid #5b7bd5; padding: 6px 10px; margin: 6px 0;
  background: var(--background-fill-secondary); }
.as-cite.failed { border-left-color: #c62828; }
.as-cite .where { font-size: 12px; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.as-cite .as-path { font-size: 12px; font-weight: 600; margin-bottom: 4px; }
.as-aside { font-size: 12px; margin-top: 8px; color: var(--body-text-color-subdued); }
.as-cite .passage { white-space: pre-wrap; }
.as-cite mark { background: #ffe066; color: #000; padding: 0 1px; }
.as-notice { font-size: 12px; color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  padding: 6px 8px; border-radius: 6px; }
.as-header { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 14px; }
.as-header b { font-weight: 600; }
.as-msg { padding: 6px 10px; border-radius: 6px; font-size: 14px; }
.as-msg.ok { background: #d8f3dc; color: #1b5e20; }
.as-msg.error { background: #fddede; color: #9b1c1c; }
.as-msg.info { background: #dcebff; color: #0b3d91; }
.as-counts { font-size: 13px; color: var(--body-text-color-subdued); }
.as-files { font-size: 13px; margin-top: 6px; }
.as-cites { max-height: 70vh; overflow-y: auto; }
#as-sessions th, #as-audit th { word-break: keep-all; overflow-wrap: normal; hyphens: none; }
"""


TOASTS_IN_FRENCH = """<script>
(() => {
  // Gradio titles its notices with their type in English, and prefixes an HTTP refusal (a file type
  // the role may not send) with « HTTP 400: ». Only the text nodes change: Svelte keeps its own.
  const titles = { Error: "Erreur", Warning: "Attention", Info: "Information", Success: "Terminé" };
  const french = () => {
    document.querySelectorAll('[data-testid="toast-body"]').forEach((toast) => {
      const walker = document.createTreeWalker(toast, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.nodeValue.trim();
        if (titles[text]) node.nodeValue = node.nodeValue.replace(text, titles[text]);
        else if (/^HTTP \\d{3}: /.test(text)) node.nodeValue = text.replace(/^HTTP \\d{3}: /, "");
      }
    });
  };
  new MutationObserver(french).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>"""
"""Given to ``launch(head=…)``: what the jury reads in Gradio's notices is French too."""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def badge(outcome: str | None, labels: dict[str, str], *, jury: bool = False) -> str:
    if outcome is None:
        return ""
    css = OUTCOME_CLASSES.get(outcome, "neutral")
    prefix = "Jury : " if jury else ""
    return f'<span class="as-badge {css}{" jury" if jury else ""}">{esc(prefix + labels.get(outcome, outcome))}</span>'


def needs_attention(state: ReviewState, criterion_id: str) -> bool:
    """A criterion nobody has decided yet: the jury's next stop."""
    decision = state.decisions.get(criterion_id)
    return decision is None or decision.action is None


def next_attention(state: ReviewState, current: str | None) -> str | None:
    """The next undecided criterion after ``current`` in grid order (wrapping), or None."""
    ids = [r.criterion_id for r in state.report.criteria]
    if not ids:
        return None
    start = ids.index(current) + 1 if current in ids else 0
    for cid in ids[start:] + ids[:start]:
        if cid != current and needs_attention(state, cid):
            return cid
    return None


def _short(text: str, limit: int = 180) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _flag_marks(result: CriterionResult) -> str:
    marks = []
    for flag in result.flags:
        icon = flag_mark(flag)
        info = flag in (Flag.EVIDENCE_ONLY, Flag.NOT_ASSESSABLE_IN_WRITING)
        marks.append(
            f'<span class="as-flag{" info" if info else ""}" title="{esc(FLAG_LABELS[flag])}">{esc(icon)}</span>'
        )
    if result.status is Status.NEEDS_REVIEW:
        marks.append(
            f'<span class="as-flag" title="Un point doit être vérifié par le jury">{WARNING_MARK} à revoir</span>'
        )
    return "".join(marks)


@dataclass(frozen=True)
class GridRow:
    criterion: Criterion
    result: CriterionResult


def _sets(
    referential: Referential, block: str, results: dict[str, CriterionResult]
) -> Iterable[tuple[str, list[GridRow]]]:
    """Criteria of a block grouped by their criteria set, headed by the competencies they assess."""
    current: str | None = None
    rows: list[GridRow] = []
    for criterion in referential.criteria_of(block):
        result = results.get(criterion.id)
        if result is None:
            continue
        heading = " · ".join(
            f"{code} {statement}"
            for code, statement in zip(criterion.competencies, criterion.competency_statements, strict=False)
        )
        if heading != current and rows:
            yield current or "", rows
            rows = []
        current = heading
        rows.append(GridRow(criterion, result))
    if rows:
        yield current or "", rows


def grid_html(state: ReviewState, referential: Referential, selected: str | None) -> str:
    """The evaluation grid: blocks, competencies, criteria with badges and flags."""
    report = state.report
    labels = report.outcome_labels
    results = {r.criterion_id: r for r in report.criteria}
    decided = sum(1 for r in report.criteria if not needs_attention(state, r.criterion_id))
    parts = [
        '<div class="as-grid" role="listbox" aria-label="Grille d\'évaluation">',
        f'<div class="as-counts">{decided} / {len(report.criteria)} critères décidés par le jury · '
        "touches <kbd>j</kbd> / <kbd>k</kbd> : critère suivant / précédent à examiner</div>",
    ]
    for block in report.referential.blocks:
        title = next((b.title for b in referential.blocks if b.code == block), "")
        verdict = state.block_decisions.get(block)
        decision = f" — bloc {esc(BLOCK_VERDICT_LABELS[verdict.verdict])} par le jury" if verdict else ""
        parts.append(f"<h3>{esc(block)} · {esc(_short(title, 120))}{decision}</h3>")
        for heading, rows in _sets(referential, block, results):
            parts.append(f"<h4>{esc(_short(heading, 200))}</h4>")
            for row in rows:
                cid = row.criterion.id
                jury = state.final_outcome(cid)
                attention = needs_attention(state, cid)
                parts.append(
                    f'<button type="button" class="as-row{" selected" if cid == selected else ""}" '
                    f'data-cid="{esc(cid)}" data-attention="{1 if attention else 0}" '
                    f'aria-selected="{"true" if cid == selected else "false"}">'
                    f'<span class="num">{esc(row.criterion.set_key)}/{row.criterion.number}</span>'
                    f'<span class="txt">{esc(_short(row.criterion.text))}</span>'
                    f'<span class="marks">{badge(row.result.outcome, labels)}{badge(jury, labels, jury=True)}'
                    f"{_flag_marks(row.result)}</span></button>"
                )
    parts.append("</div>")
    return "".join(parts)


def _highlighted(passage: str, quote: str) -> str:
    """The passage, escaped, with each extract of the quote in <mark> when the quote is verified there."""
    parts: list[str] = []
    done = 0
    for start, end in verify_quote(quote, passage).spans:
        parts += [esc(passage[done:start]), f"<mark>{esc(passage[start:end])}</mark>"]
        done = end
    return "".join([*parts, esc(passage[done:])])


def criterion_place(criterion: Criterion) -> str:
    """Where the criterion sits in the référentiel, as the jury's grid reads it: « BC02 › CP5 › critère 1 »."""
    return f"{criterion.block} › {criterion.set_key} › critère {criterion.number}"


def criterion_html(
    state: ReviewState, criterion: Criterion, result: CriterionResult, names: Mapping[str, str] | None = None
) -> str:
    """The criterion, the machine's proposal and the jury's decision so far (passages: ``citations_html``)."""
    report = state.report
    labels = report.outcome_labels
    source = "repérage automatique, sans IA" if report.evidence_only else f"modèle {report.model}"
    modalities = ", ".join(MODALITY_LABELS.get(k.value, k.value) for k in criterion.modality_kinds)
    parts = [
        '<div class="as-detail">',
        f'<div title="{esc(criterion.id)}">{esc(criterion_place(criterion))} · modalité : {esc(modalities)}</div>',
        f'<div class="crit">{esc(criterion.text)}</div>',
    ]
    if criterion.group:
        parts.append(f"<div><i>{esc(criterion.group)}</i></div>")
    if criterion.level is CriterionLevel.COMPETENCY:
        parts.append(f"<div><i>{esc(COMPETENCY_LEVEL_LABEL)} : aucun critère n'est imprimé pour elle</i></div>")
    if criterion.provenance is not None:
        parts.append(f'<div class="as-counts">Lu dans : {esc(criterion.provenance)}</div>')
    confidence = f" · confiance {result.confidence:.0%}".replace("%", " %") if result.confidence is not None else ""
    parts.append(
        f"<section><h4>Proposition de la machine ({esc(source)})</h4>{badge(result.outcome, labels)} "
        f"<span>{esc(_status_note(result.status))}{esc(confidence)}</span>"
        f"<div>{''.join(f'<div class=as-flag>{esc(FLAG_LABELS[f])}</div>' for f in result.flags)}</div></section>"
    )
    injected = injections_of(result, report.flags)
    if injected:
        parts.append(
            '<section class="as-msg error"><h4>⚠ Injection suspectée dans les passages de ce critère</h4>'
            "Ce texte du dossier tente de donner des consignes à l'outil : c'est une donnée du dossier, pas une "
            f"consigne. Vérifiez la proposition vous-même.<ul>{_flag_items(injected)}</ul></section>"
        )
    if result.baseline_outcome:
        parts.append(
            f"<section><h4>Repérage sans IA (pour comparaison)</h4>{badge(result.baseline_outcome, labels)}</section>"
        )
    decision = state.decisions.get(criterion.id)
    if decision and decision.action:
        reason = f" — motif : {esc(decision.reason)}" if decision.reason else ""
        parts.append(
            f"<section><h4>Décision du jury</h4>{badge(decision.outcome, labels, jury=True)} "
            f"{esc(CRITERION_ACTION_LABELS[decision.action])} · {esc(person(decision.decided_by, names))}{reason}"
            "</section>"
        )
    if decision and decision.comment:
        parts.append(f"<section><h4>Commentaire</h4>{esc(decision.comment)}</section>")
    parts.append(f"<section><h4>Justification proposée</h4>{esc(result.rationale)}</section>")
    if result.missing:
        items = "".join(f"<li>{esc(m)}</li>" for m in result.missing)
        parts.append(f"<section><h4>Éléments attendus non trouvés</h4><ul>{items}</ul></section>")
    if result.feedback:
        parts.append(f"<section><h4>Conseils</h4>{esc(result.feedback)}</section>")
    parts.append("</div>")
    return "".join(parts)


def _status_note(status: Status) -> str:
    """The proposal's status beside its badge; a plain proposal needs no word (the heading says it)."""
    return "" if status is Status.PROPOSED else f"{WARNING_MARK} {STATUS_LABELS[status]}"


def person(username: str | None, names: Mapping[str, str] | None = None) -> str:
    """A person as the jury knows them: « Jeanne Martin (jmartin) », or the username alone if unknown."""
    if not username:
        return "?"
    name = (names or {}).get(username)
    return f"{name} ({username})" if name and name != username else username


def reflowed(text: str) -> str:
    """The passage with the PDF's line ends inside a sentence read as spaces, the same length (the quote's
    offsets still hold); a blank line, a list item or a line after a full stop keeps its break."""
    return _LINE_END.sub(" ", text)


_LINE_END = re.compile(r"(?<=[^\n.:;!?])\n(?=[^\n\-–•*·0-9])")


def citations_html(
    result: CriterionResult,
    chunks: dict[str, Chunk],
    set_aside: Mapping[tuple[str, int], Sequence[SetAside]] | None = None,
) -> str:
    """Each cited passage, its quote highlighted, with its file, page, heading path and verification;
    then what was set aside on the cited pages (running headers, template text…), kept out of the
    passages but shown, so that the jury sees the whole page."""
    if not result.citations:
        return '<div class="as-detail"><section><h4>Passages cités</h4>Aucun passage cité.</section></div>'
    parts = [f'<div class="as-detail"><section><h4>Passages cités ({len(result.citations)})</h4><div class="as-cites">']
    for number, citation in enumerate(result.citations, start=1):
        chunk = chunks.get(citation.chunk_id)
        state_label = "✓ vérifiée" if citation.verified else "✗ NON VÉRIFIÉE"
        ocr = " · lue par OCR" if citation.ocr else ""
        passage = _highlighted(reflowed(chunk.text), citation.quote) if chunk else f"<mark>{esc(citation.quote)}</mark>"
        path = (
            '<div class="as-path" title="Titres sous lesquels figure le passage">'
            f"{' › '.join(map(esc, chunk.heading_path))}</div>"
            if chunk and chunk.heading_path
            else ""
        )
        parts.append(
            f'<div class="as-cite{"" if citation.verified else " failed"}" data-chunk="{esc(citation.chunk_id)}">'
            f'<div class="where">[{number}] {esc(citation.file)}, {esc(citation.locator)}{ocr} · {state_label} '
            f"({esc(citation.verification)})</div>{path}"
            f'<div class="passage">{passage}</div>'
            + ("" if citation.verified else f"<div><b>Citation proposée :</b> « {esc(citation.quote)} »</div>")
            + "</div>"
        )
    parts.append("</div>")
    pages = dict.fromkeys((c.file, c.page) for c in result.citations if c.page is not None)
    aside = [(file, page, (set_aside or {}).get((file, page), ())) for file, page in pages]
    aside = [(file, page, items) for file, page, items in aside if items]
    if aside:
        parts.append(
            '<details class="as-aside"><summary>Texte mis de côté sur les pages citées (en-têtes, pieds de page, '
            "modèle…), hors des passages</summary>"
        )
        for file, page, items in aside:
            rows = "".join(f"<li><i>{esc(_aside_label(i.kind))}</i> : {esc(i.text)}</li>" for i in items)
            parts.append(f"<div>{esc(file)}, page {page}<ul>{rows}</ul></div>")
        parts.append("</details>")
    parts.append("</section></div>")
    return "".join(parts)


def _aside_label(kind: str) -> str:
    try:
        return SET_ASIDE_LABELS[SetAsideKind(kind)]
    except ValueError:
        return kind


def header_html(state: ReviewState, referential: Referential, files: Sequence[DossierFile] = ()) -> str:
    s = state.summary
    report = state.report
    model = "repérage automatique, sans IA" if report.evidence_only else report.model
    blocks = blocks_named(s.blocks)
    signed = (
        f"<span><b>Signée par</b> {esc(s.signed_by_name or s.signed_by or '')} le {esc(_when(s.signed_at))}</span>"
        if s.signed_at
        else ""
    )
    return (
        '<div class="as-header">'
        f"<span><b>Candidat</b> {esc(s.candidate)}</span>"
        f"<span><b>Référentiel</b> {esc(referential.title)} ({esc(s.referential_id)}, "
        f"{esc(blocks)})</span>"
        f"<span><b>Mode</b> {esc(mode_label(s.mode))}</span><span><b>Proposé par</b> {esc(model)}</span>"
        f"<span><b>Statut</b> {esc(REVIEW_STATUS_LABELS[s.status])} · révision {s.revision}</span>{signed}</div>"
        f'<div class="as-notice">{esc(report.notice)}</div>'
        + _draft_notice(referential)
        + _dossier_alerts(state)
        + _files_html(files)
    )


def mode_label(mode: str) -> str:
    try:
        return MODE_LABELS[Mode(mode)]
    except ValueError:
        return mode


def _files_html(files: Sequence[DossierFile]) -> str:
    """The files read for this review, with what ingestion noticed (OCR pages, columns, set-aside text…)."""
    if not files:
        return ""
    items, total = [], 0
    for f in files:
        notes = f.notes()
        total += len(notes)
        pages = counted(f.pages, "page") if f.paged else "sans pages (sections)"
        listed = f"<ul>{''.join(f'<li>{esc(n)}</li>' for n in notes)}</ul>" if notes else ""
        items.append(f"<li>{esc(f.name)} : {esc(pages)}, {esc(counted(f.chunks, 'passage'))}{listed}</li>")
    summary = counted(len(files), "fichier lu", "fichiers lus") + (
        f" · {counted(total, 'remarque')} de lecture" if total else ""
    )
    listing = "".join(items)
    return f'<details class="as-files" id="as-files-read"><summary>{esc(summary)}</summary><ul>{listing}</ul></details>'


def _draft_notice(referential: Referential) -> str:
    if not referential.draft:
        return ""
    return (
        '<div class="as-msg error">Référentiel importé, pas encore relu (brouillon) : la provenance de chaque '
        "critère est indiquée sous son texte ; vérifiez-le avant de vous y fier.</div>"
    )


def _dossier_alerts(state: ReviewState) -> str:
    alerts = []
    fit = state.report.fit
    if fit is not None and fit.off_referential:
        alerts.append(
            f'<div class="as-msg error" id="as-off-referential"><b>{esc(FLAG_LABELS[Flag.OFF_REFERENTIAL])}</b>. '
            f"{esc(fit.alert())}</div>"
        )
    if state.report.flags:
        items = _flag_items(state.report.flags)
        alerts.append(
            '<div class="as-msg error"><b>Alerte : le dossier contient un texte qui tente de donner des consignes à '
            f"l'outil.</b> Les propositions concernées sont à revoir.<ul>{items}</ul></div>"
        )
    return "".join(alerts)


def _flag_items(flags: Sequence[DossierFlag]) -> str:
    """The alerts as list items: file, page and the suspect text, escaped."""
    return "".join(f"<li>{esc(f.file)}, page {esc(f.page or '?')} : « {esc(f.excerpt)} »</li>" for f in flags)


def _when(value: datetime | None) -> str:
    return local_time(value, zone=False)


def sessions_rows(summaries: Sequence[ReviewSummary]) -> list[list[str]]:
    """The list of review sessions, as table rows."""
    return [
        [
            s.candidate,
            s.referential_title,
            ", ".join(s.blocks),
            mode_label(s.mode),
            REVIEW_STATUS_LABELS[s.status],
            str(s.revision),
            _when(s.updated_at),
            s.id,
        ]
        for s in summaries
    ]


SESSION_COLUMNS = ["Candidat", "Référentiel", "Blocs", "Mode", "Statut", "Révision", "Mis à jour", "Référence"]
"""The review's reference comes last: the jury reads a candidate's name; the command line takes the reference."""
SESSION_COLUMN_WIDTHS: list[str | int] = ["16%", "22%", "6%", "15%", "9%", "8%", "12%", "12%"]
"""Wide enough that no header breaks inside a word (« Bloc s », « Révis ion » were)."""


def page_image_html(url: str) -> str:
    """The rendered page, from the app's private route (the browser sends the session cookie)."""
    return f'<img src="{esc(url)}" alt="Page du dossier, citation surlignée" class="as-page-img">'


def no_page_html(result: CriterionResult, number: int) -> str:
    """Why no page image is shown: the passage above is then the whole evidence to read."""
    if not result.citations:
        return ""
    citation = result.citations[min(max(number, 0), len(result.citations) - 1)]
    why = (
        "ce fichier n'a pas de pages (Word ou texte) : le passage est situé par sa section"
        if citation.page is None
        else "l'aperçu des pages n'existe que pour les PDF"
    )
    return (
        f'<div class="as-counts" id="as-no-page">Pas d\'aperçu de page pour {esc(citation.file)}, '
        f"{esc(citation.locator)} : {esc(why)}. Le passage cité est affiché ci-dessus.</div>"
    )


def download_html(url: str, name: str) -> str:
    """A link to an export, served only to users who may see its review."""
    return f'<a href="{esc(url)}" download="{esc(name)}">Télécharger {esc(name)}</a>'


def message(text: str, kind: str = "info") -> str:
    return f'<div class="as-msg {esc(kind)}" role="status">{esc(text)}</div>'


def bulk_preview_html(state: ReviewState, block: str, accepted: Sequence[str], left: Sequence[tuple[str, str]]) -> str:
    """What « accepter les propositions restantes du bloc » would accept, and what it leaves, before it is confirmed."""
    labels = state.report.outcome_labels
    proposals = {r.criterion_id: r for r in state.report.criteria}
    parts = [f'<div class="as-bulk"><p><b>Bloc {esc(block)}</b> : ']
    if accepted:
        parts.append(
            f"{len(accepted)} proposition{'s' if len(accepted) > 1 else ''} "
            f"{'seront acceptées' if len(accepted) > 1 else 'sera acceptée'} comme décision du jury :</p><ul>"
        )
        for criterion_id in accepted:
            result = proposals[criterion_id]
            text = esc(_short(result.criterion_text, 90))
            parts.append(f"<li>{esc(criterion_id)} — {badge(result.outcome, labels)} {text}</li>")
        parts.append("</ul>")
    else:
        parts.append("aucune proposition ne peut être acceptée telle quelle.</p>")
    if left:
        parts.append(f"<p>{len(left)} critère{'s' if len(left) > 1 else ''} à décider un par un :</p><ul>")
        parts += [f"<li>{esc(criterion_id)} : {esc(why)}</li>" for criterion_id, why in left]
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)
