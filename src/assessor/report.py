"""Reports for people: JSON (complete), Markdown and HTML (readable by a jury member).

Everything that comes from a dossier is escaped in HTML: a candidate's text is shown, never run.
Secrets (API keys a model repeated…) are masked before any format is rendered (``assessor.redaction``).
"""

from __future__ import annotations

import html
from collections import Counter
from enum import StrEnum

from assessor.injection import injections_of
from assessor.redaction import redact_model
from assessor.referential import COMPETENCY_LEVEL_LABEL
from assessor.results import FLAG_LABELS, MODE_LABELS, STATUS_LABELS, CriterionResult, Flag, Report
from assessor.timefmt import local_time
from assessor.wording import blocks_named


class ReportFormat(StrEnum):
    JSON = "json"
    MD = "md"
    HTML = "html"


def render(report: Report, fmt: ReportFormat) -> str:
    report = redact_model(report)
    if fmt is ReportFormat.JSON:
        return report.model_dump_json(indent=2) + "\n"
    if fmt is ReportFormat.MD:
        return _markdown(report)
    return _html(report)


def _criterion(result: CriterionResult) -> str:
    """The criterion's text, marked when it is a competency assessed as a whole."""
    if result.competency_level:
        return f"{result.criterion_text} ({COMPETENCY_LEVEL_LABEL})"
    return result.criterion_text


def _label(report: Report, result: CriterionResult) -> str:
    return report.outcome_labels.get(result.outcome, result.outcome)


def _baseline(report: Report, result: CriterionResult) -> str:
    """The evidence-only outcome of a criterion in a model run, for comparison."""
    code = result.baseline_outcome
    return report.outcome_labels.get(code, code) if code else "—"


def summary(report: Report) -> Counter[str]:
    return Counter(_label(report, r) for r in report.criteria)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    lines = [
        f"# Pré-lecture du dossier {report.dossier.id}",
        "",
        f"> {report.notice}",
        "",
        f"- Référentiel : {report.referential.title} (`{report.referential.id}`, version {report.referential.version}),"
        f" {blocks_named(report.referential.blocks)}",
        f"- Fichiers : {', '.join(f'{f.name} ({f.pages} p.)' for f in report.dossier.files)}",
        f"- Mode : {MODE_LABELS[report.mode]} ; modèle : {report.model_label}"
        + (" (aucun modèle de langage)" if report.evidence_only else ""),
        f"- Produit le {local_time(report.created_at)}",
        "",
        "Synthèse : " + ", ".join(f"{label} : {n}" for label, n in summary(report).most_common()),
        "",
    ]
    off = report.fit is not None and report.fit.off_referential
    if report.flags or off:
        lines += ["## Alertes sur le dossier", ""]
        if off and report.fit is not None:
            lines.append(
                f"- **{FLAG_LABELS[Flag.OFF_REFERENTIAL]}** (`{Flag.OFF_REFERENTIAL.value}`) — {report.fit.alert()}"
            )
        lines += [f"- **{FLAG_LABELS[f.flag]}** — {f.file}, page {f.page} : « {_md(f.excerpt)} »" for f in report.flags]
        lines.append("")
    for block in report.referential.blocks:
        results = [r for r in report.criteria if r.block == block]
        if report.evidence_only:
            lines += [f"## Bloc {block}", "", "| Critère | Proposition | Statut |", "|---|---|---|"]
            lines += [
                f"| `{r.criterion_id}` {_md(_criterion(r))} | {_label(report, r)} | {STATUS_LABELS[r.status]} |"
                for r in results
            ]
        else:  # a model run is shown next to the evidence-only baseline
            lines += [
                f"## Bloc {block}",
                "",
                "| Critère | Proposition du modèle | Statut | Repérage sans IA |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| `{r.criterion_id}` {_md(_criterion(r))} | {_label(report, r)} | {STATUS_LABELS[r.status]} "
                f"| {_baseline(report, r)} |"
                for r in results
            ]
        lines.append("")
        for r in results:
            lines += [
                f"### {r.criterion_id} — {_label(report, r)}",
                "",
                f"*{_md(_criterion(r))}*",
                "",
                r.rationale,
                "",
            ]
            for c in r.citations:
                mark = "✓ vérifiée" if c.verified else f"✗ NON VÉRIFIÉE ({c.verification})"
                ocr = " — lu par OCR" if c.ocr else ""
                lines.append(f"- « {_md(c.quote)} » — {c.file}, {_md(c.where)}{ocr} — {mark}")
            if r.citations:
                lines.append("")
            if r.missing:
                lines += ["Éléments non trouvés :", *[f"- {m}" for m in r.missing], ""]
            if r.feedback:
                lines += [f"Conseil : {r.feedback}", ""]
            alerts = criterion_alerts(report, r)
            if alerts:
                lines += ["Alertes : " + " ; ".join(_md(a) for a in alerts), ""]
    return "\n".join(lines)


def criterion_alerts(report: Report, result: CriterionResult) -> list[str]:
    """A criterion's alerts for people; an injection names the file and page of the text in its passages."""
    alerts = []
    for flag in result.flags:
        if flag is Flag.EVIDENCE_ONLY:  # already said in the notice
            continue
        label = FLAG_LABELS[flag]
        if flag is Flag.SUSPECTED_INJECTION:
            places = dict.fromkeys(f"{f.file}, page {f.page or '?'}" for f in injections_of(result, report.flags))
            label += f" ({' ; '.join(places)})" if places else ""
        alerts.append(label)
    return alerts


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2733}
.notice{background:#fff7e0;border-left:4px solid #e0a800;padding:.6rem 1rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}
td,th{border:1px solid #c8d0da;padding:.35rem .5rem;vertical-align:top}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.85rem;background:#e6ebf1}
.a_examiner{background:#dbeafe}.preuves_insuffisantes{background:#fde2e1}.non_evaluable_ecrit{background:#eee}
.acquis{background:#d1fae5}.partiellement_acquis{background:#fef3c7}.non_acquis{background:#fecaca}
.ok{color:#0a7a3b}.ko{color:#b42318;font-weight:bold}.alert{color:#b42318}
blockquote{margin:.3rem 0 .3rem 1rem;padding-left:.6rem;border-left:3px solid #c8d0da}
"""


def _html(report: Report) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>Pré-lecture — {e(report.dossier.id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Pré-lecture du dossier {e(report.dossier.id)}</h1>",
        f"<p class='notice'>{e(report.notice)}</p>",
        f"<p>Référentiel : {e(report.referential.title)} ({e(report.referential.id)}, version "
        f"{e(report.referential.version)}) — {e(blocks_named(report.referential.blocks))}<br>"
        f"Fichiers : {e(', '.join(f.name for f in report.dossier.files))}<br>Mode : {e(MODE_LABELS[report.mode])} ; "
        f"modèle : {e(report.model_label)}</p>",
    ]
    off = report.fit is not None and report.fit.off_referential
    if report.flags or off:
        parts.append("<h2>Alertes sur le dossier</h2><ul>")
        if off and report.fit is not None:
            parts.append(
                f"<li class='alert' id='{Flag.OFF_REFERENTIAL.value}'><strong>{e(FLAG_LABELS[Flag.OFF_REFERENTIAL])}"
                f"</strong> ({Flag.OFF_REFERENTIAL.value}) — {e(report.fit.alert())}</li>"
            )
        parts += [
            f"<li class='alert'>{e(FLAG_LABELS[f.flag])} — {e(f.file)}, page {f.page} : « {e(f.excerpt)} »</li>"
            for f in report.flags
        ]
        parts.append("</ul>")
    for block in report.referential.blocks:
        results = [r for r in report.criteria if r.block == block]
        baseline_head = "" if report.evidence_only else "<th>Repérage sans IA</th>"
        parts.append(f"<h2>Bloc {e(block)}</h2><table><tr><th>Critère</th><th>Proposition</th>{baseline_head}</tr>")
        for r in results:
            baseline = "" if report.evidence_only else f"<td>{e(_baseline(report, r))}</td>"
            parts.append(
                f"<tr><td><a href='#{e(r.criterion_id)}'>{e(r.criterion_id)}</a><br>{e(_criterion(r))}</td>"
                f"<td><span class='badge {e(r.outcome)}'>{e(_label(report, r))}</span></td>{baseline}</tr>"
            )
        parts.append("</table>")
        for r in results:
            parts.append(
                f"<h3 id='{e(r.criterion_id)}'>{e(r.criterion_id)} — {e(_label(report, r))}</h3>"
                f"<p><em>{e(_criterion(r))}</em></p><p>{e(r.rationale)}</p>"
            )
            for c in r.citations:
                status = (
                    "<span class='ok'>✓ vérifiée</span>"
                    if c.verified
                    else (f"<span class='ko'>✗ non vérifiée : {e(c.verification)}</span>")
                )
                parts.append(
                    f"<blockquote>« {e(c.quote)} »<br><small>{e(c.file)}, {e(c.where)}"
                    f"{' — lu par OCR' if c.ocr else ''} — {status}</small></blockquote>"
                )
            if r.missing:
                parts.append(
                    "<p>Éléments non trouvés :</p><ul>" + "".join(f"<li>{e(m)}</li>" for m in r.missing) + "</ul>"
                )
            if r.feedback:
                parts.append(f"<p>Conseil : {e(r.feedback)}</p>")
            alerts = criterion_alerts(report, r)
            if alerts:
                parts.append(f"<p class='alert'>{e(' ; '.join(alerts))}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
