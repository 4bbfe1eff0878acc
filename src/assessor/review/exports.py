"""The documents a jury files: a review exported as PDF, DOCX, CSV or JSON.

Every export shows, for each criterion in référentiel order, what the machine proposed and,
apart from it, what a person decided, then each block's decision and who signed. An unsigned
review is marked « DOCUMENT DE TRAVAIL — NON SIGNÉ » everywhere (on every page of the PDF, in
the header of every DOCX page, in the CSV's ``review_status`` column and the JSON's signature).

Dossier text (quotes, rationales, reasons, names) is data: it is escaped for reportlab's
mini-markup, stripped of the control characters XML refuses, and neutralised in CSV cells
that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from assessor.errors import UnknownName
from assessor.referential import Referential
from assessor.results import (
    FLAG_SHORT_LABELS,
    MODE_LABELS,
    REVIEW_EXPORT_FORMAT,
    REVIEW_EXPORT_VERSION,
    STATUS_LABELS,
    ContractError,
    CriterionResult,
    Flag,
    Mode,
    read_review_export,
)
from assessor.review.domain import (
    BLOCK_VERDICT_LABELS,
    CRITERION_ACTION_LABELS,
    CSV_COLUMNS,
    REVIEW_STATUS_LABELS,
    AuditAnchor,
    BlockDecision,
    CriterionAction,
    CriterionDecision,
    ReviewError,
    ReviewState,
    ReviewStatus,
)
from assessor.timefmt import local_time


class ExportFormat(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    CSV = "csv"
    JSON = "json"


MEDIA_TYPES: dict[ExportFormat, str] = {
    ExportFormat.PDF: "application/pdf",
    ExportFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
}


UNSIGNED_MARK = "DOCUMENT DE TRAVAIL — NON SIGNÉ"
SUPERSEDED_MARK = "RÉVISION REMPLACÉE — voir la révision suivante"
EVIDENCE_ONLY_MODEL = "repérage sans IA"


def export_review(
    state: ReviewState, referential: Referential, fmt: ExportFormat, *, anchor: AuditAnchor | None = None
) -> bytes:
    """The review as a document of this format.

    ``anchor`` (``ReviewStore.anchor``) seals the document to the audit log: every format prints
    it, and ``assessor review verify --against`` reads it back (:func:`read_anchor`).
    """
    view = _view(state, referential, anchor)
    renderers: dict[ExportFormat, Callable[[_View], bytes]] = {
        ExportFormat.PDF: _pdf,
        ExportFormat.DOCX: _docx,
        ExportFormat.CSV: _csv,
        ExportFormat.JSON: _json,
    }
    return renderers[ExportFormat(fmt)](view)


def export_filename(state: ReviewState, fmt: ExportFormat) -> str:
    """``grille-<référentiel>-<candidat>-r<révision>.<ext>``: ASCII, no path separator."""
    referential = _slug(state.summary.referential_id, "referentiel")
    candidate = _slug(state.summary.candidate, "candidat")
    return f"grille-{referential}-{candidate}-r{state.summary.revision}.{ExportFormat(fmt).value}"


def _slug(text: str, default: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or default


# --- What every format shows ------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One criterion: the machine's proposal and the jury's decision, ready to print."""

    block: str
    criterion_id: str
    criterion: str
    group: str | None
    result: CriterionResult | None
    machine_outcome: str
    machine_outcome_label: str
    machine_status: str
    machine_status_label: str
    flags: tuple[Flag, ...]
    verified: int
    total: int
    action: CriterionAction | None
    jury_outcome: str
    jury_outcome_label: str
    reason: str
    comment: str
    decided_by: str
    decided_at: datetime | None

    @property
    def action_label(self) -> str:
        return CRITERION_ACTION_LABELS[self.action]

    @property
    def flag_labels(self) -> list[str]:
        return [FLAG_SHORT_LABELS.get(flag, str(flag)) for flag in self.flags]


@dataclass(frozen=True)
class _Block:
    code: str
    title: str
    lines: list[_Line]
    decision: BlockDecision | None

    @property
    def verdict_label(self) -> str:
        return BLOCK_VERDICT_LABELS[self.decision.verdict] if self.decision else "aucune décision"


@dataclass(frozen=True)
class _View:
    state: ReviewState
    referential: Referential
    blocks: list[_Block]
    anchor: AuditAnchor | None = None

    @property
    def lines(self) -> list[_Line]:
        return [line for block in self.blocks for line in block.lines]

    @property
    def signed(self) -> bool:
        summary = self.state.summary
        return summary.status is not ReviewStatus.IN_REVIEW and bool(summary.signed_by) and bool(summary.signed_at)

    @property
    def superseded(self) -> bool:
        return self.state.summary.status is ReviewStatus.SUPERSEDED

    @property
    def certification(self) -> str:
        return self.referential.title or self.state.summary.referential_title

    @property
    def model_label(self) -> str:
        return self.state.report.model_label

    def counts(self) -> dict[str, int]:
        actions = [line.action for line in self.lines]
        return {
            "criteria": len(actions),
            "accepted": actions.count(CriterionAction.ACCEPTED),
            "overridden": actions.count(CriterionAction.OVERRIDDEN),
            "undecided": sum(1 for a in actions if a is None),
            "blocks": len(self.blocks),
            "blocks_decided": sum(1 for b in self.blocks if b.decision),
        }


def _view(state: ReviewState, referential: Referential, anchor: AuditAnchor | None = None) -> _View:
    report = state.report
    results: dict[str, CriterionResult] = {r.criterion_id: r for r in report.criteria}
    codes = list(
        dict.fromkeys([*state.summary.blocks, *report.referential.blocks, *(r.block for r in report.criteria)])
    )
    shown: set[str] = set()
    blocks: list[_Block] = []
    for code in codes:
        try:
            block = referential.block(code)
            title, criteria = block.title, referential.criteria_of(code)
        except UnknownName:  # a block this référentiel does not know: show what the machine had
            title, criteria = "", []
        lines = [_line(state, c.id, c.block, c.text, c.group, results.get(c.id)) for c in criteria]
        shown.update(c.id for c in criteria)
        lines += [  # criteria of the report that the référentiel given does not have
            _line(state, r.criterion_id, code, r.criterion_text, None, r)
            for r in report.criteria
            if r.block == code and r.criterion_id not in shown
        ]
        shown.update(line.criterion_id for line in lines)
        if lines or code in state.summary.blocks:
            blocks.append(_Block(code, title, lines, state.block_decisions.get(code)))
    return _View(state, referential, blocks, anchor)


def _line(
    state: ReviewState, criterion_id: str, block: str, text: str, group: str | None, result: CriterionResult | None
) -> _Line:
    labels = state.report.outcome_labels
    decision = state.decisions.get(criterion_id) or CriterionDecision(criterion_id=criterion_id)
    action = decision.action
    jury_outcome = ""
    if action is not None:
        jury_outcome = decision.outcome or (result.outcome if result and action is CriterionAction.ACCEPTED else "")
    return _Line(
        block=block,
        criterion_id=criterion_id,
        criterion=text,
        group=group,
        result=result,
        machine_outcome=result.outcome if result else "",
        machine_outcome_label=labels.get(result.outcome, result.outcome) if result else "aucune proposition",
        machine_status=str(result.status) if result else "",
        machine_status_label=STATUS_LABELS.get(result.status, str(result.status)) if result else "",
        flags=tuple(result.flags) if result else (),
        verified=sum(1 for c in result.citations if c.verified) if result else 0,
        total=len(result.citations) if result else 0,
        action=action,
        jury_outcome=jury_outcome,
        jury_outcome_label=labels.get(jury_outcome, jury_outcome),
        reason=decision.reason,
        comment=decision.comment,
        decided_by=decision.decided_by or "",
        decided_at=decision.decided_at,
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _mode_label(mode: str) -> str:
    try:
        return MODE_LABELS[Mode(mode)]
    except ValueError:
        return mode


def _rncp(view: _View) -> str:
    rncp = (view.referential.rncp or "").strip()
    return f"RNCP{rncp}" if rncp.isdigit() else rncp


def _status_label(view: _View) -> str:
    status = view.state.summary.status
    label = REVIEW_STATUS_LABELS.get(status, str(status))
    return label if view.signed or status is ReviewStatus.IN_REVIEW else f"{label} (sans signature enregistrée)"


def _header_fields(view: _View) -> list[tuple[str, str]]:
    """The header of the PDF and DOCX: (label, value) pairs."""
    summary, report = view.state.summary, view.state.report
    ref_text = f"{report.referential.id}, version {report.referential.version}"
    if view.referential.version != report.referential.version:
        ref_text += f" (référentiel consulté pour l’export : version {view.referential.version})"
    revision = str(summary.revision)
    if summary.parent_id:
        revision += f" (remplace la revue signée {summary.parent_id})"
    fields = [("Certification", view.certification)]
    if _rncp(view):
        fields.append(("Fiche RNCP", _rncp(view)))
    if view.referential.certifier:
        fields.append(("Certificateur", view.referential.certifier))
    fields += [
        ("Référentiel", ref_text),
        ("Blocs", " ; ".join(f"{b.code} — {b.title}" if b.title else b.code for b in view.blocks)),
        ("Candidat", summary.candidate),
        ("Revue", summary.id),
        ("Révision", revision),
        ("Mode", _mode_label(summary.mode)),
        ("Statut", _status_label(view)),
        ("Dossier", f"{report.dossier.id} ({', '.join(f'{f.name}, {f.pages} p.' for f in report.dossier.files)})"),
        ("Proposition de la machine", view.model_label),
        ("Version des consignes", report.prompt_version or ("sans objet" if report.evidence_only else "—")),
        ("Proposition produite le", local_time(report.created_at)),
        ("Revue ouverte le", f"{local_time(summary.created_at)} par {summary.created_by}"),
        ("Dernière modification", local_time(summary.updated_at)),
        ("Signature", _signature_text(view)),
    ]
    return fields


SIGNATURE_CLOSES = (
    "La signature clôt cette révision : toute modification ultérieure fait l’objet d’une nouvelle révision, "
    "qui remplace celle-ci."
)
ANCHOR_TEXT = (
    "Sceau du journal d’audit : entrée {entry_id}, empreinte {entry_hash}, {review_entries} entrées pour la "
    "revue {review_id}, clé {key_id}"
)
ANCHOR_PATTERN = re.compile(
    r"Sceau du journal d.audit : entrée (?P<entry_id>\d+), empreinte (?P<entry_hash>[0-9a-f\s]{64,}?), "
    r"(?P<review_entries>\d+) entrées pour la revue (?P<review_id>[A-Za-z0-9_-]+), clé (?P<key_id>[0-9a-f]*)"
)


def anchor_text(anchor: AuditAnchor) -> str:
    """The audit anchor as printed on a PDF or DOCX grid (one line, read back by :func:`read_anchor`)."""
    return ANCHOR_TEXT.format(**anchor.model_dump())


def _anchor_paragraphs(view: _View) -> list[str]:
    if view.anchor is None:
        return []
    return [
        anchor_text(view.anchor) + ".",
        "Pour vérifier que la base de revue n’a rien perdu ni modifié depuis cette grille : "
        "assessor review verify --against <ce fichier>.",
    ]


def _unreadable(name: str, exc: Exception) -> ReviewError:
    return ReviewError(f"Impossible de lire le sceau du journal d’audit dans {name} : {exc}")


def read_grid(path: Path) -> dict[str, Any]:
    """An exported JSON grid, read once and checked (``results.read_review_export``): its seal
    (:func:`grid_anchor`) and its decisions are both taken from it."""
    try:
        return read_review_export(path.read_bytes())
    except ContractError as exc:  # not a grid, or a newer one: said with the file's name
        raise type(exc)(f"{path.name} : {exc}") from exc
    except OSError as exc:
        raise _unreadable(path.name, exc) from exc


def grid_anchor(grid: dict[str, Any], name: str) -> AuditAnchor:
    """The audit anchor of a JSON grid read by :func:`read_grid` (``name``: its file, for messages)."""
    held = grid.get("audit")
    if not held:
        raise ReviewError(f"{name} ne porte pas de sceau du journal d’audit (champ « audit » absent).")
    try:
        return AuditAnchor.model_validate(held)
    except ValueError as exc:
        raise _unreadable(name, exc) from exc


def read_anchor(path: Path) -> AuditAnchor:
    """The audit anchor an exported grid carries (JSON, CSV, PDF or DOCX), for ``verify --against``."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return grid_anchor(read_grid(path), path.name)
    try:
        if suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
            if not rows or not rows[0].get("audit_entry_id"):
                raise ReviewError(f"{path.name} ne porte pas de sceau du journal d’audit (colonnes audit_* vides).")
            first = rows[0]
            return AuditAnchor(
                review_id=first["review_id"],
                entry_id=int(first["audit_entry_id"]),
                entry_hash=first["audit_entry_hash"],
                review_entries=int(first["audit_review_entries"]),
                key_id=first.get("audit_key_id", ""),
            )
        if suffix in (".pdf", ".docx"):
            match = ANCHOR_PATTERN.search(" ".join(_document_text(path, suffix).split()))
            if match is None:
                raise ReviewError(f"{path.name} ne porte pas de sceau du journal d’audit lisible.")
            values = match.groupdict()
            values["entry_hash"] = "".join(values["entry_hash"].split())
            return AuditAnchor.model_validate(values)
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
        if isinstance(exc, ReviewError):
            raise
        raise _unreadable(path.name, exc) from exc
    raise ReviewError(f"{path.name} : format non reconnu ; donnez la grille exportée en JSON, CSV, PDF ou DOCX.")


def _document_text(path: Path, suffix: str) -> str:
    if suffix == ".pdf":
        import pypdf

        return " ".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)
    from docx import Document

    return " ".join(paragraph.text for paragraph in Document(str(path)).paragraphs)


def _signature_text(view: _View) -> str:
    summary = view.state.summary
    if not view.signed:
        return f"non signée — {UNSIGNED_MARK}"
    name = summary.signed_by_name or summary.signed_by or ""
    return f"signée par {name} ({summary.signed_by}) le {local_time(summary.signed_at)}"


def _notice(view: _View) -> list[str]:
    """The transparency statement (EU AI Act, human oversight), one paragraph per item."""
    report = view.state.report
    paragraphs = [
        "Cette grille sépare ce que la machine a proposé de ce que le jury a décidé. Les colonnes "
        "« Proposition de la machine » reprennent, sans modification, la pré-lecture produite automatiquement "
        "par l’outil Assessor ; les colonnes « Décision du jury » portent les décisions prises par des "
        "personnes, avec leur auteur, leur date et, quand le jury s’écarte de la proposition, son motif.",
        "La proposition de la machine n’est qu’une aide à la lecture du dossier : elle n’a pas valeur de "
        "décision. Le jury a examiné le dossier, a décidé seul de chaque critère et de chaque bloc, et seule "
        "sa signature engage l’évaluation (contrôle humain au sens du règlement européen sur l’intelligence "
        "artificielle, UE 2024/1689).",
    ]
    if report.evidence_only:
        paragraphs.append(
            "Aucun modèle de langage n’a été utilisé : la machine a seulement repéré des passages du dossier "
            "à examiner, sans porter de jugement."
        )
    else:
        paragraphs.append(
            f"Les propositions ont été produites par le modèle de langage {report.model} ; chaque citation a "
            "été recherchée dans le dossier, et n’est dite « vérifiée » que si elle y figure mot pour mot."
        )
    if report.pseudonymised:
        paragraphs.append("Les données personnelles du dossier ont été pseudonymisées avant d’être lues par le modèle.")
    undecided = view.counts()["undecided"]
    if view.signed and undecided:
        paragraphs.append(
            f"Attention : {_plural(undecided, 'critère n’a', 'critères n’ont')} pas de décision du jury. Cette "
            "révision a été signée avant que la décision de chaque critère soit exigée : la signature ne vaut que "
            "pour les décisions inscrites dans les colonnes « Décision du jury »."
        )
    if not view.signed:
        paragraphs.append(
            f"{UNSIGNED_MARK} : cette révision n’a pas été signée ; ses décisions peuvent encore changer "
            "et elle ne vaut pas décision du jury."
        )
    if view.superseded:
        paragraphs.append(
            "Cette révision signée a été remplacée par une révision ultérieure, qui seule fait foi désormais."
        )
    return paragraphs


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _counts_cells(view: _View) -> list[tuple[str, str]]:
    """The counts summary: (label, value) pairs."""
    n = view.counts()
    return [
        ("Critères", str(n["criteria"])),
        ("Propositions acceptées", str(n["accepted"])),
        ("Décisions modifiées par le jury", str(n["overridden"])),
        ("Sans décision du jury", str(n["undecided"])),
        ("Blocs décidés", f"{n['blocks_decided']} sur {n['blocks']}"),
    ]


def _counts_text(view: _View) -> str:
    n = view.counts()
    return (
        f"{_plural(n['criteria'], 'critère', 'critères')} : "
        f"{_plural(n['accepted'], 'proposition acceptée', 'propositions acceptées')}, "
        f"{_plural(n['overridden'], 'décision modifiée', 'décisions modifiées')} par le jury, "
        f"{n['undecided']} sans décision du jury ; {_plural(n['blocks_decided'], 'bloc décidé', 'blocs décidés')} "
        f"sur {n['blocks']}."
    )


def _block_decision_parts(block: _Block) -> tuple[str, str]:
    """(what was decided and by whom, justification) for a block."""
    decision = block.decision
    if decision is None:
        return f"Décision du jury sur le bloc {block.code} : aucune décision", ""
    return (
        f"Décision du jury sur le bloc {block.code} : {block.verdict_label}, "
        f"par {decision.decided_by} le {local_time(decision.decided_at)}",
        f"Justification : {decision.justification}",
    )


def _block_decision_text(block: _Block) -> str:
    head, justification = _block_decision_parts(block)
    return f"{head}. {justification}".strip()


def _dossier_alerts(view: _View) -> list[str]:
    return [
        f"{FLAG_SHORT_LABELS.get(f.flag, str(f.flag))} — {f.file}"
        + (f", page {f.page}" if f.page is not None else "")
        + f" : « {f.excerpt} »"
        for f in view.state.report.flags
    ]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Without the control characters that XML (DOCX) and PDF text refuse."""
    return _CONTROL.sub(" ", text)


# --- CSV --------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(view: _View) -> bytes:
    summary, report = view.state.summary, view.state.report
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for block in view.blocks:
        decision = block.decision
        for line in block.lines:
            row: dict[str, object] = {
                "review_id": summary.id,
                "revision": summary.revision,
                "candidate": summary.candidate,
                "referential_id": report.referential.id,
                "referential_version": report.referential.version,
                "block": line.block,
                "criterion_id": line.criterion_id,
                "criterion": line.criterion,
                "machine_model": (line.result.model if line.result else report.model),
                "machine_outcome": line.machine_outcome,
                "machine_outcome_label": line.machine_outcome_label if line.result else "",
                "machine_status": line.machine_status,
                "machine_flags": "|".join(str(flag) for flag in line.flags),
                "verified_citations": line.verified,
                "total_citations": line.total,
                "jury_action": str(line.action) if line.action else "",
                "jury_outcome": line.jury_outcome,
                "jury_outcome_label": line.jury_outcome_label,
                "jury_reason": line.reason,
                "jury_comment": line.comment,
                "decided_by": line.decided_by,
                "decided_at": _iso(line.decided_at),
                "block_verdict": str(decision.verdict) if decision else "",
                "block_justification": decision.justification if decision else "",
                "review_status": str(summary.status),
                "signed_by": summary.signed_by or "",
                "signed_by_name": summary.signed_by_name or "",
                "signed_at": _iso(summary.signed_at),
                "audit_entry_id": view.anchor.entry_id if view.anchor else "",
                "audit_entry_hash": view.anchor.entry_hash if view.anchor else "",
                "audit_review_entries": view.anchor.review_entries if view.anchor else "",
                "audit_key_id": view.anchor.key_id if view.anchor else "",
            }
            writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


# --- JSON -------------------------------------------------------------------------------------


def _json(view: _View) -> bytes:
    state, report, summary = view.state, view.state.report, view.state.summary
    document: dict[str, Any] = {
        "format": REVIEW_EXPORT_FORMAT,
        "format_version": REVIEW_EXPORT_VERSION,
        "review": summary.model_dump(mode="json"),
        "review_version": state.version,
        "referential": {
            "id": report.referential.id,
            "version": report.referential.version,
            "title": view.certification,
            "rncp": view.referential.rncp,
            "certifier": view.referential.certifier,
            "blocks": [{"code": b.code, "title": b.title} for b in view.blocks],
            "outcome_labels": report.outcome_labels,
        },
        "machine": {
            "model": report.model,
            "model_label": view.model_label,
            "evidence_only": report.evidence_only,
            "pseudonymised": report.pseudonymised,
            "prompt_version": report.prompt_version,
            "mode": str(report.mode),
            "created_at": _iso(report.created_at),
            "dossier": report.dossier.model_dump(mode="json"),
            "flags": [f.model_dump(mode="json") for f in report.flags],
            "notice": report.notice,
        },
        "criteria": [_json_criterion(line) for line in view.lines],
        "blocks": [
            {
                "block": b.code,
                "title": b.title,
                "verdict": str(b.decision.verdict) if b.decision else None,
                "verdict_label": b.verdict_label,
                "justification": b.decision.justification if b.decision else None,
                "decided_by": b.decision.decided_by if b.decision else None,
                "decided_at": _iso(b.decision.decided_at) if b.decision else None,
            }
            for b in view.blocks
        ],
        "counts": view.counts(),
        "audit": view.anchor.model_dump() if view.anchor else None,
        "signature": {
            "signed": view.signed,
            "status": str(summary.status),
            "status_label": _status_label(view),
            "signed_by": summary.signed_by,
            "signed_by_name": summary.signed_by_name,
            "signed_at": _iso(summary.signed_at) or None,
            "mark": None if view.signed else UNSIGNED_MARK,
        },
        "notice": "\n\n".join(_notice(view)),
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


_CITATION_FIELDS = {"file", "page", "locator", "headings", "quote", "verified", "verification", "ocr"}


def _json_criterion(line: _Line) -> dict[str, Any]:
    result = line.result
    machine: dict[str, Any] | None = None
    if result is not None:
        machine = {
            "outcome": result.outcome,
            "outcome_label": line.machine_outcome_label,
            "status": line.machine_status,
            "status_label": line.machine_status_label,
            "flags": [str(flag) for flag in line.flags],
            "flag_labels": line.flag_labels,
            "rationale": result.rationale,
            "missing": result.missing,
            "feedback": result.feedback,
            "confidence": result.confidence,
            "model": result.model,
            "verified_citations": line.verified,
            "total_citations": line.total,
            "citations": [c.model_dump(mode="json", include=_CITATION_FIELDS) for c in result.citations],
        }
    return {
        "criterion_id": line.criterion_id,
        "block": line.block,
        "group": line.group,
        "criterion": line.criterion,
        "machine": machine,
        "jury": {
            "action": str(line.action) if line.action else None,
            "action_label": line.action_label,
            "outcome": line.jury_outcome or None,
            "outcome_label": line.jury_outcome_label or None,
            "reason": line.reason,
            "comment": line.comment,
            "decided_by": line.decided_by or None,
            "decided_at": _iso(line.decided_at) or None,
        },
    }


# --- PDF --------------------------------------------------------------------------------------

# Font families to embed, best first: (regular, bold, italic, bold italic). The first one found
# on the system is used; reportlab's own Vera comes last, then the PDF standard Helvetica.
_SYSTEM_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/liberation2"),
    Path("/usr/share/fonts/liberation"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path("C:/Windows/Fonts"),
)
_FAMILY_FILES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    (
        "LiberationSans-Regular.ttf",
        "LiberationSans-Bold.ttf",
        "LiberationSans-Italic.ttf",
        "LiberationSans-BoldItalic.ttf",
    ),
    ("Vera.ttf", "VeraBd.ttf", "VeraIt.ttf", "VeraBI.ttf"),
)


def _font_families() -> list[tuple[Path, Path, Path, Path]]:
    import reportlab  # type: ignore[import-untyped]

    dirs = [*_SYSTEM_FONT_DIRS, Path(reportlab.__file__).parent / "fonts"]
    families = []
    for names in _FAMILY_FILES:
        for directory in dirs:
            paths = tuple(directory / name for name in names)
            if all(p.is_file() for p in paths):
                families.append((paths[0], paths[1], paths[2], paths[3]))
    return families


FONT_FAMILIES: list[tuple[Path, Path, Path, Path]] = _font_families()
"""Candidate TTF families; empty means Helvetica (Latin-1 and Windows-1252 French only)."""


@cache
def _register(family: tuple[Path, Path, Path, Path] | None) -> tuple[str, str, str]:
    """Registers a family with reportlab once; returns the (regular, bold, italic) font names."""
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    if family is None:
        return "Helvetica", "Helvetica-Bold", "Helvetica-Oblique"
    base = "Assessor-" + _slug(family[0].stem, "font")
    names = (base, base + "-Bold", base + "-Italic", base + "-BoldItalic")
    for name, path in zip(names, family, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily(base, normal=names[0], bold=names[1], italic=names[2], boldItalic=names[3])
    return names[0], names[1], names[2]


def pdf_fonts() -> tuple[str, str, str]:
    """The (regular, bold, italic) fonts of every PDF: the first usable family, registered once."""
    for family in FONT_FAMILIES:
        try:
            return _register(family)
        except Exception:  # an unreadable or unusable font file: try the next one
            continue
    return _register(None)


def _esc(text: str) -> str:
    """Dossier text for a reportlab Paragraph: markup characters shown literally, line breaks kept."""
    return escape(clean_text(text)).replace("\n", "<br/>")


class _PdfKit:
    """The PDF's page, fonts, colours and paragraph styles, and its two building blocks."""

    def __init__(self) -> None:
        from reportlab.lib import colors  # type: ignore[import-untyped]
        from reportlab.lib.enums import TA_CENTER  # type: ignore[import-untyped]
        from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
        from reportlab.lib.units import mm  # type: ignore[import-untyped]

        self.colors, self.mm = colors, mm
        self.regular, self.bold, self.italic = pdf_fonts()
        self.page_w, self.page_h = landscape(A4)
        self.margin = 12 * mm
        self.width = self.page_w - 2 * self.margin
        self.red = colors.HexColor("#b42318")
        self.ink = colors.HexColor("#1d2733")
        self.machine_bg = colors.HexColor("#eef2f7")
        self.jury_bg = colors.HexColor("#fff8e1")
        self.grid = colors.HexColor("#aab4c0")
        style = self._style
        self.title = style("title", fontName=self.bold, fontSize=16, leading=20, spaceAfter=2)
        self.subtitle = style("subtitle", fontSize=11, leading=14, spaceAfter=6)
        self.h1 = style("h1", fontName=self.bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4, keepWithNext=1)
        self.block = style("block", fontName=self.bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
        self.count = style("count", fontName=self.bold, fontSize=11, leading=14, alignment=TA_CENTER)
        self.body = style("body", fontSize=9, leading=11.5, spaceAfter=4)
        self.cell = style("cell")
        self.small = style("small", fontSize=7, leading=8.5, textColor=colors.HexColor("#4a5563"))
        self.head = style("head", fontName=self.bold, textColor=colors.white)
        self.group = style("group", fontName=self.italic)
        self.banner = style(
            "banner", fontName=self.bold, fontSize=12, leading=15, textColor=self.red, alignment=TA_CENTER
        )

    def _style(self, name: str, **kw: Any) -> Any:
        from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]

        return ParagraphStyle(
            name, **{"fontName": self.regular, "fontSize": 8, "leading": 10, "textColor": self.ink, **kw}
        )

    def p(self, text: str, style: Any = None) -> Any:
        from reportlab.platypus import Paragraph  # type: ignore[import-untyped]

        return Paragraph(text, style or self.cell)

    def table(self, data: list[list[Any]], style: list[tuple[Any, ...]], **kw: Any) -> Any:
        from reportlab.platypus import Table, TableStyle

        # The font for empty cells too: otherwise reportlab sets Helvetica and embeds it.
        return Table(data, style=TableStyle([("FONTNAME", (0, 0), (-1, -1), self.regular), *style]), **kw)


def _pdf(view: _View) -> bytes:
    """The review's grid as a landscape A4 PDF: banner, header, notice and counts, one table per
    block with its decision, the signature and the audit anchor; page marks on every page."""
    from reportlab.platypus import SimpleDocTemplate

    kit = _PdfKit()
    summary = view.state.summary
    story = [*_pdf_opening(kit, view), *_pdf_summary(kit, view)]
    for block in view.blocks:
        story += _pdf_block(kit, block)
    story.append(_pdf_signature(kit, view))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=(kit.page_w, kit.page_h),
        leftMargin=kit.margin,
        rightMargin=kit.margin,
        topMargin=15 * kit.mm,
        bottomMargin=12 * kit.mm,
        title=clean_text(f"Grille d’évaluation du jury — {summary.candidate}"),
        author="Assessor (proposition) et jury (décision)",
        subject=clean_text(f"{view.certification} — revue {summary.id}, révision {summary.revision}"),
        creator="Assessor",
        lang="fr-FR",
        invariant=1,
        initialFontName=kit.regular,
    )
    on_page = _pdf_page_marks(kit, view)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page, canvasmaker=_numbered_canvas(kit))
    return buffer.getvalue()


def _pdf_opening(kit: _PdfKit, view: _View) -> list[Any]:
    """The unsigned or superseded banner, the title, and the header's label/value pairs on two columns."""
    p, width = kit.p, kit.width
    story: list[Any] = []
    if not view.signed:
        story.append(
            kit.table(
                [[p(UNSIGNED_MARK, kit.banner)]],
                colWidths=[width],
                style=[("BOX", (0, 0), (-1, -1), 1.5, kit.red), ("TOPPADDING", (0, 0), (-1, -1), 4)],
                spaceAfter=6,
            )
        )
    elif view.superseded:
        story.append(p(_esc(SUPERSEDED_MARK), kit.banner))
    story += [
        p("Grille d’évaluation du jury", kit.title),
        p(f"{_esc(view.certification)} — candidat : {_esc(view.state.summary.candidate)}", kit.subtitle),
    ]
    fields = _header_fields(view)
    half = (len(fields) + 1) // 2
    left, right = fields[:half], fields[half:]
    rows = []
    for i in range(half):
        row = [p(f"<b>{_esc(left[i][0])}</b>"), p(_esc(left[i][1]))]
        row += [p(f"<b>{_esc(right[i][0])}</b>"), p(_esc(right[i][1]))] if i < len(right) else ["", ""]
        rows.append(row)
    story.append(
        kit.table(
            rows,
            colWidths=[0.13 * width, 0.37 * width, 0.13 * width, 0.37 * width],
            style=[
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, kit.grid),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ],
            spaceAfter=6,
        )
    )
    return story


def _pdf_summary(kit: _PdfKit, view: _View) -> list[Any]:
    """What the machine did and what the jury decides, the counts, and the alerts on the dossier."""
    p = kit.p
    story = [p("Transparence et contrôle humain", kit.h1), *(p(_esc(text), kit.body) for text in _notice(view))]
    story.append(p("Synthèse", kit.h1))
    counts = _counts_cells(view)
    story.append(
        kit.table(
            [[p(f"<b>{_esc(label)}</b>") for label, _ in counts], [p(_esc(value), kit.count) for _, value in counts]],
            colWidths=[kit.width / len(counts)] * len(counts),
            hAlign="LEFT",
            style=[
                ("GRID", (0, 0), (-1, -1), 0.4, kit.grid),
                ("BACKGROUND", (0, 0), (-1, 0), kit.colors.HexColor("#e6ebf1")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ],
            spaceAfter=4,
        )
    )
    alerts = _dossier_alerts(view)
    if alerts:
        story.append(p("Alertes de la machine sur le dossier", kit.h1))
        story += [p("• " + _esc(alert), kit.body) for alert in alerts]
    return story


_PDF_COLUMNS = (0.29, 0.18, 0.15, 0.26, 0.12)
"""Criterion, machine's proposal, jury's decision, reason and comment, by and when (fractions of the width)."""


def _pdf_block(kit: _PdfKit, block: _Block) -> list[Any]:
    """A block's heading, its criteria table (the machine's columns shaded blue-grey, the jury's pale
    yellow, each criteria group as a row of its own) and the block's decision."""
    from reportlab.platypus import CondPageBreak, Spacer

    p, colors = kit.p, kit.colors
    col_widths = [c * kit.width for c in _PDF_COLUMNS]
    title = f"Bloc {block.code}" + (f" — {block.title}" if block.title else "")
    data: list[list[Any]] = [
        [
            p("Critère du référentiel", kit.head),
            p("Proposition de la machine (aide, sans valeur de décision)", kit.head),
            p("Décision du jury", kit.head),
            "",
            "",
        ],
        ["", "", p("Décision", kit.head), p("Motif et commentaire", kit.head), p("Par, le", kit.head)],
    ]
    commands: list[tuple[Any, ...]] = [
        ("SPAN", (0, 0), (0, 1)),
        ("SPAN", (1, 0), (1, 1)),
        ("SPAN", (2, 0), (4, 0)),
        ("BACKGROUND", (0, 0), (1, 1), colors.HexColor("#3b4a5c")),
        ("BACKGROUND", (2, 0), (4, 1), colors.HexColor("#7a5b00")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, kit.grid),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3.5),
    ]
    group: str | None = None
    for line in block.lines:
        if line.group and line.group != group:
            r = len(data)
            data.append([p(_esc(line.group), kit.group), "", "", "", ""])
            commands += [("SPAN", (0, r), (-1, r)), ("BACKGROUND", (0, r), (-1, r), colors.HexColor("#dde3ea"))]
            row = _pdf_row(line, p, kit.small)
            height = max(cell.wrap(w - 7, 10**6)[1] for cell, w in zip(row, col_widths, strict=True))
            if height < 250:  # keep the group heading with its first criterion, unless that one is huge
                commands.append(("NOSPLIT", (0, r), (-1, r + 1)))
        group = line.group
        r = len(data)
        data.append(_pdf_row(line, p, kit.small))
        commands += [("BACKGROUND", (1, r), (1, r), kit.machine_bg), ("BACKGROUND", (2, r), (4, r), kit.jury_bg)]
    if not block.lines:
        r = len(data)
        data.append([p("Aucun critère pour ce bloc.", kit.group), "", "", "", ""])
        commands.append(("SPAN", (0, r), (-1, r)))
    decision = kit.table(
        [[p(_block_decision_markup(block), kit.body)]],
        colWidths=[kit.width],
        style=[
            ("BOX", (0, 0), (-1, -1), 0.8, kit.ink if block.decision else kit.red),
            ("BACKGROUND", (0, 0), (-1, -1), kit.jury_bg),
        ],
        spaceAfter=4,
    )
    return [
        CondPageBreak(45 * kit.mm),  # a heading and a few rows, or a new page
        p(_esc(title), kit.block),
        kit.table(data, colWidths=col_widths, repeatRows=2, splitInRow=1, style=commands),
        Spacer(1, 4),
        decision,
    ]


def _pdf_signature(kit: _PdfKit, view: _View) -> Any:
    """Who signed and when (or the unsigned mark), and the audit anchor, kept on one page."""
    from reportlab.platypus import KeepTogether

    p = kit.p
    signature = [p("Signature", kit.h1), p(_esc(_signature_text(view)), kit.body)]
    signature.append(p(_esc(SIGNATURE_CLOSES), kit.body) if view.signed else p(_esc(UNSIGNED_MARK), kit.banner))
    signature += [p(_esc(text), kit.small) for text in _anchor_paragraphs(view)]
    return KeepTogether(signature)


def _pdf_page_marks(kit: _PdfKit, view: _View) -> Callable[[Any, Any], None]:
    """What every page carries: the running title and status, the review's reference, and on an
    unsigned grid a faint diagonal « NON SIGNÉ » under the content."""
    summary = view.state.summary
    header_title = f"Grille du jury — {view.certification} — {summary.candidate} — révision {summary.revision}"
    mm, margin, width, page_w, page_h = kit.mm, kit.margin, kit.width, kit.page_w, kit.page_h

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        if not view.signed:
            canvas.setFillColor(kit.colors.Color(0.71, 0.14, 0.09, alpha=0.07))
            canvas.setFont(kit.bold, 64)
            canvas.translate(page_w / 2, page_h / 2)
            canvas.rotate(24)
            canvas.drawCentredString(0, -20, "NON SIGNÉ")
            canvas.rotate(-24)
            canvas.translate(-page_w / 2, -page_h / 2)
        y = page_h - 8 * mm
        mark = UNSIGNED_MARK if not view.signed else ("RÉVISION REMPLACÉE" if view.superseded else "")
        mark_w = 0.0
        if mark:
            canvas.setFont(kit.bold, 9)
            canvas.setFillColor(kit.red)
            canvas.drawRightString(page_w - margin, y, mark)
            mark_w = canvas.stringWidth(mark, kit.bold, 9) + 8 * mm
        canvas.setFont(kit.regular, 8)
        canvas.setFillColor(kit.ink)
        canvas.drawString(margin, y, _fit(clean_text(header_title), width - mark_w, canvas, kit.regular, 8))
        canvas.setStrokeColor(kit.grid)
        canvas.setLineWidth(0.5)
        canvas.line(margin, y - 2.5 * mm, page_w - margin, y - 2.5 * mm)
        footer = f"Revue {summary.id} — révision {summary.revision} — {_status_label(view)}"
        canvas.setFont(kit.regular, 7)
        canvas.drawString(margin, 6 * mm, _fit(clean_text(footer), width - 40 * mm, canvas, kit.regular, 7))
        canvas.restoreState()

    return on_page


def _numbered_canvas(kit: _PdfKit) -> type:
    """A canvas that holds pages back until the end, to write « page N / M » on each."""
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(kit.regular, 7)
                self.setFillColor(kit.ink)
                self.drawRightString(kit.page_w - kit.margin, 6 * kit.mm, f"page {self._pageNumber} / {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _fit(text: str, max_width: float, canvas: Any, font: str, size: float) -> str:
    """The text, cut with an ellipsis to fit a width on the page."""
    if canvas.stringWidth(text, font, size) <= max_width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"


def _block_decision_markup(block: _Block) -> str:
    head, justification = _block_decision_parts(block)
    return f"<b>{_esc(head)}</b>" + (f"<br/>{_esc(justification)}" if justification else "")


def _pdf_row(line: _Line, p: Callable[..., Any], s_small: Any) -> list[Any]:
    criterion = p(f"<font size='7'>{_esc(line.criterion_id)}</font><br/>{_esc(line.criterion)}")
    if line.result is None:
        machine = p("<i>aucune proposition</i>")
    else:
        parts = [f"<b>{_esc(line.machine_outcome_label)}</b>", f"Statut : {_esc(line.machine_status_label)}"]
        parts.append(f"Citations vérifiées : {line.verified} / {line.total}")
        if line.flags:
            parts.append("Alertes : " + _esc(" ; ".join(line.flag_labels)))
        machine = p("<br/>".join(parts))
    decision = [f"<i>{_esc(line.action_label)}</i>"]
    if line.jury_outcome:
        decision.append(f"<b>{_esc(line.jury_outcome_label)}</b>")
    notes = []
    if line.reason:
        notes.append(f"<b>Motif :</b> {_esc(line.reason)}")
    if line.comment:
        notes.append(f"<b>Commentaire :</b> {_esc(line.comment)}")
    who = [_esc(line.decided_by)] if line.decided_by else []
    if line.decided_at:
        who.append(_esc(local_time(line.decided_at)))
    return [criterion, machine, p("<br/>".join(decision)), p("<br/>".join(notes)), p("<br/>".join(who), s_small)]


# --- DOCX -------------------------------------------------------------------------------------


def _docx_red() -> Any:
    """The red of the unsigned mark (python-docx is imported on demand)."""
    from docx.shared import RGBColor

    return RGBColor(0xB4, 0x23, 0x18)


_DOCX_WIDTH_CM = 29.7 - 2 * 1.4
"""The text width of the landscape A4 page, between its 1.4 cm margins."""


def _docx(view: _View) -> bytes:
    """The review's grid as a Word document, in the PDF's order: page set-up and running marks, the
    opening, the summary, one table per block with its decision, the signature and the anchor."""
    from docx import Document

    document = Document()
    _docx_page(document, view)
    _docx_opening(document, view)
    _docx_summary(document, view)
    for block in view.blocks:
        _docx_block(document, block)
    _docx_signature(document, view)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_page(document: Any, view: _View) -> None:
    """Landscape A4, the document's properties, and every page's header and footer (title,
    unsigned mark, page N / M)."""
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    summary = view.state.summary
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(9)
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(1.4))
    section.top_margin, section.bottom_margin = Cm(1.6), Cm(1.4)

    properties = document.core_properties
    properties.title = clean_text(f"Grille d’évaluation du jury — {summary.candidate}")[:255]  # Word's limit
    properties.subject = clean_text(f"{view.certification} — revue {summary.id}, révision {summary.revision}")[:255]
    properties.author = "Assessor (proposition) et jury (décision)"
    properties.language = "fr-FR"
    properties.created = summary.created_at
    properties.modified = summary.signed_at or summary.updated_at

    header = section.header.paragraphs[0]
    header.add_run(
        clean_text(f"Grille du jury — {view.certification} — {summary.candidate} — révision {summary.revision}")
    )
    header.runs[0].font.size = Pt(8)
    mark = UNSIGNED_MARK if not view.signed else ("RÉVISION REMPLACÉE" if view.superseded else "")
    if mark:
        run = section.header.add_paragraph().add_run(mark)
        run.bold, run.font.color.rgb, run.font.size = True, _docx_red(), Pt(10)
    footer = section.footer.paragraphs[0]
    footer.add_run(clean_text(f"Revue {summary.id} — révision {summary.revision} — {_status_label(view)} — page "))
    docx_field(footer, "PAGE", OxmlElement, qn)
    footer.add_run(" / ")
    docx_field(footer, "NUMPAGES", OxmlElement, qn)
    for run in footer.runs:
        run.font.size = Pt(7)


def _docx_opening(document: Any, view: _View) -> None:
    """The unsigned or superseded banner, the title, and the header's label/value pairs on two columns."""
    from docx.shared import Cm

    if not view.signed:
        _docx_banner(document, UNSIGNED_MARK)
    elif view.superseded:
        _docx_banner(document, SUPERSEDED_MARK)
    document.add_heading("Grille d’évaluation du jury", 0)
    document.add_paragraph(clean_text(f"{view.certification} — candidat : {view.state.summary.candidate}"))
    fields = _header_fields(view)
    half = (len(fields) + 1) // 2
    info = document.add_table(rows=half, cols=4)
    info.style = "Table Grid"
    for i, (label, value) in enumerate(fields):
        row, col = (i, 0) if i < half else (i - half, 2)
        _docx_write(info.cell(row, col), [("b", label)])
        _docx_write(info.cell(row, col + 1), [("", value)])
    _widths(info, [0.13, 0.37, 0.13, 0.37], _DOCX_WIDTH_CM, Cm)


def _docx_summary(document: Any, view: _View) -> None:
    """What the machine did and what the jury decides, the counts, and the alerts on the dossier."""
    document.add_heading("Transparence et contrôle humain", 1)
    for text in _notice(view):
        document.add_paragraph(clean_text(text))
    document.add_heading("Synthèse", 1)
    document.add_paragraph(_counts_text(view))
    alerts = _dossier_alerts(view)
    if alerts:
        document.add_heading("Alertes de la machine sur le dossier", 1)
        for alert in alerts:
            document.add_paragraph(clean_text(alert), style="List Bullet")


def _docx_block(document: Any, block: _Block) -> None:
    """A block's heading, its criteria table (two header rows repeated on each page, a row per
    criteria group, the machine's column shaded blue-grey, the jury's pale yellow) and its decision."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document.add_heading(clean_text(f"Bloc {block.code}" + (f" — {block.title}" if block.title else "")), 1)
    table = document.add_table(rows=2, cols=5)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    top, sub = table.rows[0].cells, table.rows[1].cells
    _docx_write(top[0], [("b", "Critère du référentiel")])
    _docx_write(top[1], [("b", "Proposition de la machine (aide, sans valeur de décision)")])
    _docx_write(top[2], [("b", "Décision du jury")])
    _docx_write(sub[2], [("b", "Décision")])
    _docx_write(sub[3], [("b", "Motif et commentaire")])
    _docx_write(sub[4], [("b", "Par, le")])
    top[0].merge(sub[0])
    top[1].merge(sub[1])
    top[2].merge(top[4])
    for row in table.rows:
        _repeat_header(row, OxmlElement, qn)
        for cell in row.cells:
            _docx_shade(cell, "D5DCE5")
            _keep_with_next(cell)  # never a header alone at the foot of a page
    group: str | None = None
    for line in block.lines:
        if line.group and line.group != group:
            cells = table.add_row().cells
            merged = cells[0].merge(cells[4])
            _docx_write(merged, [("i", line.group)])
            _docx_shade(merged, "E8ECF1")
            _keep_with_next(merged)  # a group heading stays with its first criterion
        group = line.group
        _docx_line(table, line)
    _widths(table, list(_PDF_COLUMNS), _DOCX_WIDTH_CM, Cm)
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_before = Pt(4)
    run = paragraph.add_run(clean_text(_block_decision_text(block)))
    run.bold = block.decision is None


def _docx_line(table: Any, line: _Line) -> None:
    """One criterion's row: the criterion, the machine's proposal, the jury's decision, its reason
    and comment, who decided and when."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    row = table.add_row()
    _cant_split(row, OxmlElement, qn)
    cells = row.cells
    _docx_write(cells[0], [("small", line.criterion_id + "\n"), ("", line.criterion)])
    if line.result is None:
        _docx_write(cells[1], [("i", "aucune proposition")])
    else:
        machine = [
            ("b", line.machine_outcome_label),
            ("", f"\nStatut : {line.machine_status_label}"),
            ("", f"\nCitations vérifiées : {line.verified} / {line.total}"),
        ]
        if line.flags:
            machine.append(("", "\nAlertes : " + " ; ".join(line.flag_labels)))
        _docx_write(cells[1], machine)
    _docx_shade(cells[1], "EEF2F7")
    decision = [("i", line.action_label)]
    if line.jury_outcome:
        decision.append(("b", "\n" + line.jury_outcome_label))
    _docx_write(cells[2], decision)
    notes: list[tuple[str, str]] = []
    if line.reason:
        notes += [("b", "Motif : "), ("", line.reason)]
    if line.comment:
        notes += [("b", ("\n" if notes else "") + "Commentaire : "), ("", line.comment)]
    _docx_write(cells[3], notes)
    who = "\n".join(x for x in (line.decided_by, local_time(line.decided_at)) if x)
    _docx_write(cells[4], [("small", who)])
    for cell in cells[2:]:
        _docx_shade(cell, "FFF8E1")


def _docx_signature(document: Any, view: _View) -> None:
    """Who signed and when (or the unsigned mark), and the audit anchor."""
    from docx.shared import Pt

    document.add_heading("Signature", 1)
    document.add_paragraph(clean_text(_signature_text(view)))
    if view.signed:
        document.add_paragraph(SIGNATURE_CLOSES)
    else:
        _docx_banner(document, UNSIGNED_MARK)
    for text in _anchor_paragraphs(view):
        run = document.add_paragraph().add_run(clean_text(text))
        run.font.size = Pt(7.5)


def _docx_banner(document: Any, text: str) -> None:
    from docx.shared import Pt

    run = document.add_paragraph().add_run(text)
    run.bold, run.font.color.rgb, run.font.size = True, _docx_red(), Pt(14)


def _docx_shade(cell: Any, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = cell._tc.get_or_add_tcPr()
    for old in properties.findall(qn("w:shd")):  # a merged cell comes back once per grid column
        properties.remove(old)
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    properties.append(shading)


def _docx_write(cell: Any, parts: Iterable[tuple[str, str]], size: float = 8.5) -> None:
    """Cell text from (style, text) parts: style is '', 'b', 'i' or 'small'; '\\n' starts a line."""
    from docx.shared import Pt

    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    for kind, text in parts:
        run = paragraph.add_run(clean_text(text))
        run.bold = True if kind == "b" else None
        run.italic = True if kind == "i" else None
        run.font.size = Pt(7.5 if kind == "small" else size)


def _widths(table: Any, fractions: list[float], width_cm: float, cm: Callable[[float], Any]) -> None:
    """Column widths as fractions of the page: on the grid and on every cell (Word reads the cells)."""
    table.autofit = False
    for column, fraction in zip(table.columns, fractions, strict=True):
        column.width = cm(width_cm * fraction)
    for row in table.rows:
        start = 0
        for tc in row._tr.tc_lst:
            span = tc.grid_span
            tc.width = cm(width_cm * sum(fractions[start : start + span]))
            start += span


def _repeat_header(row: Any, element: Callable[[str], Any], qn: Callable[[str], str]) -> None:
    """Marks a row as a header row, repeated at the top of each page the table spans."""
    properties = row._tr.get_or_add_trPr()
    tag = element("w:tblHeader")
    tag.set(qn("w:val"), "true")
    properties.append(tag)


def _keep_with_next(cell: Any) -> None:
    for paragraph in cell.paragraphs:
        paragraph.paragraph_format.keep_with_next = True


def _cant_split(row: Any, element: Callable[[str], Any], qn: Callable[[str], str]) -> None:
    properties = row._tr.get_or_add_trPr()
    tag = element("w:cantSplit")
    tag.set(qn("w:val"), "true")
    properties.append(tag)


def docx_field(paragraph: Any, code: str, element: Callable[[str], Any], qn: Callable[[str], str]) -> None:
    """A Word field (PAGE, NUMPAGES) that the reader's word processor computes."""
    field = element("w:fldSimple")
    field.set(qn("w:instr"), f" {code} ")
    run = element("w:r")
    text = element("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
